"""The comparison command: a shortened default run, resuming, and its user errors."""

import csv
import glob
import json
import os

import pytest
import torch

from pythae_t3cvae.bench import cli
from pythae_t3cvae.bench.grid import MODEL_NAMES
from pythae_t3cvae.bench.training import ResumableTrainer, latest_checkpoint, train_run
from pythae_t3cvae.data import load_preset

SHORT = ["--epochs", "1", "--samples-per-class", "5", "--classifier-epochs", "1", "--tau", "0.5", "1"]


def _parse_markdown_table(text: str, title_start: str) -> dict:
    """Rows of the first table whose heading starts with ``title_start``: model -> cells."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("### " + title_start))
    header = [cell.strip() for cell in lines[start + 2].strip("|").split("|")]
    rows = {}
    for line in lines[start + 4:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = dict(zip(header[1:], cells[1:]))
    return rows


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("bench")
    code = cli.main(SHORT + ["--output-dir", str(output), "--device", "cpu"])
    return code, output


def test_default_run_exit_code(default_run):
    code, _ = default_run
    assert code == 0


def test_default_run_writes_results(default_run):
    _, output = default_run
    for name in ("results.json", "results.csv", "table.md", "classifier.pt", "rho_10/manifest.json",
                 "rho_10/radar.png", "rho_10/tau_curve.png"):
        assert (output / name).is_file(), name


def test_default_run_saves_every_model(default_run):
    _, output = default_run
    for model in MODEL_NAMES:
        assert (output / "rho_10" / "runs" / model / "final_model" / "model.pt").is_file(), model
        assert (output / "rho_10" / f"samples_{model}.png").is_file(), model


def test_table_lists_every_model(default_run):
    _, output = default_run
    rows = _parse_markdown_table((output / "table.md").read_text(), "Mean per-class F1")
    assert sorted(rows) == sorted(MODEL_NAMES)
    for model, cells in rows.items():
        value = float(cells["rho=10"])
        assert 0.0 <= value <= 1.0, (model, value)


def test_tail_share_table_lists_every_model(default_run):
    _, output = default_run
    rows = _parse_markdown_table((output / "table.md").read_text(), "Share of generated samples")
    assert sorted(rows) == sorted(MODEL_NAMES)
    runs = json.loads((output / "results.json").read_text())["runs"]
    for run in runs:
        coverage = run["metrics"]["coverage"]
        tail = run["tail_classes"]
        expected = sum(coverage["counts"][c] for c in tail) / coverage["n_samples"]
        assert run["metrics"]["tail_share"] == pytest.approx(expected), run["model"]


def test_results_json_matches_csv(default_run):
    _, output = default_run
    runs = json.loads((output / "results.json").read_text())["runs"]
    with open(output / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [run["model"] for run in runs] == [row["model"] for row in rows]
    for run, row in zip(runs, rows):
        assert float(row["mean_f1"]) == pytest.approx(run["metrics"]["mean_f1"])


def test_results_record_class_counts(default_run):
    _, output = default_run
    results = json.loads((output / "results.json").read_text())
    expected = load_preset("digits-lt", rho=10.0, data_seed=0).train.labels
    counts = torch.bincount(expected, minlength=10).tolist()
    assert all(run["class_counts"] == counts for run in results["runs"])


def test_conditional_models_generate_each_class(default_run):
    _, output = default_run
    runs = json.loads((output / "results.json").read_text())["runs"]
    for run in runs:
        if run["model"] in ("C-VAE", "beta-C-VAE", "C-t3VAE", "beta-C-t3VAE"):
            assert run["metrics"]["coverage"]["n_samples"] == 50


def test_rerun_skips_finished_runs(default_run, capsys):
    _, output = default_run
    before = os.path.getmtime(output / "rho_10" / "runs" / "C-t3VAE" / "final_model" / "model.pt")
    assert cli.main(SHORT + ["--output-dir", str(output), "--device", "cpu", "--models", "C-t3VAE"]) == 0
    after = os.path.getmtime(output / "rho_10" / "runs" / "C-t3VAE" / "final_model" / "model.pt")
    assert before == after
    assert "C-t3VAE" in capsys.readouterr().out


class _Interrupt(Exception):
    pass


def test_resume_continues_to_requested_epochs(tmp_path, monkeypatch):
    data = load_preset("digits-lt", rho=10.0, data_seed=0)
    from pythae_t3cvae import T3CVAE, T3CVAEConfig, class_counts

    counts = class_counts(data.train, 10)

    def build():
        return T3CVAE(T3CVAEConfig(input_dim=(1, 8, 8), latent_dim=4, n_classes=10, class_counts=counts, network="conv8"))

    run_dir = str(tmp_path / "run")
    original_train_step = ResumableTrainer.train_step
    calls = {"n": 0}

    def interrupted_train_step(self, epoch):
        calls["n"] += 1
        if calls["n"] == 2:
            raise _Interrupt("simulated interruption during epoch 2")
        return original_train_step(self, epoch)

    monkeypatch.setattr(ResumableTrainer, "train_step", interrupted_train_step)
    with pytest.raises(_Interrupt):
        train_run(build, data.train, run_dir, epochs=3, batch_size=64, learning_rate=1e-3, seed=0, device="cpu")
    assert latest_checkpoint(run_dir)[0] == 1

    monkeypatch.setattr(ResumableTrainer, "train_step", original_train_step)
    _, status = train_run(build, data.train, run_dir, epochs=3, batch_size=64, learning_rate=1e-3, seed=0, device="cpu")
    assert status == "resumed"

    done = json.loads(open(os.path.join(run_dir, "done.json")).read())
    assert done == {**done, "epochs": 3, "resumed_from_epoch": 1}
    assert latest_checkpoint(run_dir)[0] == 3

    # The optimizer continued: AdamW's step count covers all three epochs.
    steps_per_epoch = -(-len(data.train) // 64)
    optimizer = torch.load(os.path.join(latest_checkpoint(run_dir)[1], "optimizer.pt"), weights_only=True)
    steps = {int(state["step"]) for state in optimizer["state"].values()}
    assert steps == {3 * steps_per_epoch}


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--preset", "no-such-preset"], "unknown preset 'no-such-preset'"),
        (["--preset", "svhn-lt", "--root", "/nonexistent/svhn"], "/nonexistent/svhn"),
        (["--preset", "mnist-lt", "--root", "{empty}"], "train-images-idx3-ubyte"),
    ],
)
def test_user_errors_are_one_line(arguments, message, tmp_path, capsys):
    arguments = [a.replace("{empty}", str(tmp_path)) for a in arguments]
    code = cli.main(arguments + ["--output-dir", str(tmp_path / "out"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("rho", ["0.5", "-3", "nan", "abc"])
def test_invalid_rho_is_rejected(rho, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--rho", rho])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert "--rho" in err
    assert "Traceback" not in err


def test_help_shows_examples_and_defaults(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "examples:" in out
    assert "(default: digits-lt)" in out


def test_evaluate_writes_json_and_plots(default_run, tmp_path):
    from PIL import Image

    from pythae_t3cvae.bench import evaluate

    _, output = default_run
    model_dir = output / "rho_10" / "runs" / "C-t3VAE" / "final_model"
    out = tmp_path / "evaluation"
    code = evaluate.main([str(model_dir), "--rho", "10", "--samples-per-class", "5", "--classifier-epochs", "1",
                          "--tau", "1", "--device", "cpu", "--output-dir", str(out)])
    assert code == 0

    result = json.loads((out / "evaluation.json").read_text())
    assert result["model"] == "T3CVAE"
    assert result["sampling"] == "mixture"
    assert result["settings"]["k"] == 3
    assert result["metrics"]["n_generated"] == 50
    assert len(result["metrics"]["f1"]) == 10
    assert result["versions"]["pythae"] == "0.1.2"
    for name in ("radar.png", "samples.png", "tau_curve.png"):
        with Image.open(out / name) as image:
            assert image.format == "PNG", name


def test_evaluate_missing_folder_is_one_line(tmp_path, capsys):
    from pythae_t3cvae.bench import evaluate

    code = evaluate.main([str(tmp_path / "missing"), "--device", "cpu", "--output-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "missing" in err
    assert len(err.strip().splitlines()) == 1
