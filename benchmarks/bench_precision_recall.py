"""Time this package's precision_recall against prdc.compute_prdc, with the peak memory of each.

Both get the same float32 NumPy features (N real and N generated vectors of dimension D, standard
normal, the generated ones scaled by 1.05) and k = 3. Every measurement runs in a fresh Python
process, so its peak memory can be read from /proc/self/status: the reported peak is VmHWM after
the call minus VmRSS just before it, i.e. the memory the call added on top of its inputs. Rounds
alternate the two implementations (A, B, then B, A), and the speedup is the median
over rounds of prdc time / package time.

prdc 0.2 builds three N x N distance matrices through sklearn.metrics.pairwise_distances with
n_jobs=8 (fixed in prdc), then partitions them; it also computes density and coverage, which
this package does not, but those reuse the same matrices. This package works in
chunk_size x chunk_size blocks.

Example:
    python benchmarks/bench_precision_recall.py --quick
    python benchmarks/bench_precision_recall.py --sizes 1000 2000 5000 10000 --repeats 3
    python benchmarks/bench_precision_recall.py --device cuda    # package on the GPU, prdc on the CPU
"""

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from common import apply_threads, base_parser, bounded_int, format_table, load_average, machine_line, resolve_device

IMPLEMENTATIONS = ("package", "prdc")
NEAREST_K = 3
# prdc partitions each row of distances at position k + 1, so it needs N >= k + 2.
MIN_SIZE = NEAREST_K + 2


def read_status_kib(field: str) -> int:
    """Return a memory field of /proc/self/status (VmRSS, VmHWM) in KiB."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field} line; this benchmark needs Linux")


def make_features(n: int, dim: int, seed: int):
    """Return (real, generated) float32 arrays of shape (n, dim)."""
    rng = np.random.default_rng(seed)
    real = rng.standard_normal((n, dim), dtype=np.float32)
    generated = rng.standard_normal((n, dim), dtype=np.float32) * np.float32(1.05)
    return real, generated


def run_package(real, generated, device: str) -> dict:
    import torch

    # The full module path also works for commits older than metrics/__init__.py (before/after runs).
    from pythae_t3cvae.metrics.precision_recall import precision_recall

    real_tensor = torch.from_numpy(real).to(device)
    generated_tensor = torch.from_numpy(generated).to(device)
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = precision_recall(real_tensor, generated_tensor, k=NEAREST_K)  # returns Python floats
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "precision": result["precision"], "recall": result["recall"]}


def run_prdc(real, generated) -> dict:
    from prdc import compute_prdc

    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints the sample counts
        result = compute_prdc(real, generated, nearest_k=NEAREST_K)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "precision": float(result["precision"]), "recall": float(result["recall"])}


def worker(args) -> None:
    """Measure one call in this process and print it as one JSON line."""
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cpus])
    apply_threads(args.threads)
    real, generated = make_features(args.worker_n, args.dim, args.seed)
    if args.worker == "package":
        import torch  # noqa: F401  (imported before the baseline reading, like prdc's imports below)
        import pythae_t3cvae.metrics  # noqa: F401
    else:
        import prdc  # noqa: F401

    baseline_kib = read_status_kib("VmRSS")
    if args.worker == "package":
        measurement = run_package(real, generated, args.device)
    else:
        measurement = run_prdc(real, generated)
    measurement["peak_mib"] = (read_status_kib("VmHWM") - baseline_kib) / 1024
    print(json.dumps(measurement))


def measure(implementation: str, n: int, args) -> dict:
    """Run one measurement in a child process and return its JSON result."""
    command = [
        sys.executable, __file__, "--worker", implementation, "--worker-n", str(n), "--dim", str(args.dim),
        "--seed", str(args.seed), "--threads", str(args.threads), "--cpus", str(args.cpus),
        "--device", args.device if implementation == "package" else "cpu",
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"{implementation} at N={n} failed (exit {completed.returncode}):\n{completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def benchmark_size(n: int, rounds: int, args) -> list:
    """Time both implementations at one size and return a table row."""
    results = {name: [] for name in IMPLEMENTATIONS}
    for round_index in range(rounds):
        order = IMPLEMENTATIONS if round_index % 2 == 0 else IMPLEMENTATIONS[::-1]
        for name in order:
            results[name].append(measure(name, n, args))

    def seconds(name):
        return [result["seconds"] for result in results[name]]

    speedup = statistics.median(p / q for p, q in zip(seconds("prdc"), seconds("package")))
    same = all(
        (a["precision"], a["recall"]) == (b["precision"], b["recall"])
        for a, b in zip(results["package"], results["prdc"])
    )
    package, reference = results["package"][0], results["prdc"][0]
    return [
        n, args.dim,
        f"{statistics.median(seconds('package')):.2f}", f"{statistics.median(seconds('prdc')):.2f}",
        f"{speedup:.2f}x",
        f"{max(r['peak_mib'] for r in results['package']):.0f}", f"{max(r['peak_mib'] for r in results['prdc']):.0f}",
        f"{package['precision']:.4f}/{package['recall']:.4f}", f"{reference['precision']:.4f}/{reference['recall']:.4f}",
        "yes" if same else "no",
    ]


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0], default_repeats=3)
    parser.add_argument(
        "--sizes", type=bounded_int(MIN_SIZE, 100_000), nargs="+", default=None,
        help=f"N, the number of real and of generated vectors, each {MIN_SIZE}..100000 (default 1000 2000 5000 10000; "
        "--quick: 1000 2000)",
    )
    parser.add_argument("--dim", type=bounded_int(1, 100_000), default=2048, help="feature dimension D, 1..100000 (default 2048)")
    parser.add_argument(
        "--cpus", type=bounded_int(1, os.cpu_count() or 1), default=1,
        help=f"CPUs each measurement process is pinned to, 1..{os.cpu_count()} (default 1). prdc always "
        "starts 8 joblib threads, so without pinning it takes every core while torch uses --threads",
    )
    # Internal: the script runs itself with these to measure one call in a fresh process.
    parser.add_argument("--worker", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)
    parser.add_argument("--worker-n", type=bounded_int(MIN_SIZE, 100_000), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        if args.worker_n is None:
            parser.error("--worker needs --worker-n")
        worker(args)
        return

    device = resolve_device(parser, args.device)
    apply_threads(args.threads)  # only so that the machine line shows the workers' thread count
    sizes = args.sizes or ([1000, 2000] if args.quick else [1000, 2000, 5000, 10000])
    rounds = args.repeats or (2 if args.quick else 3)

    print(machine_line(device))
    threads = args.threads or "library defaults"
    print(f"each measurement pinned to {args.cpus} CPU(s), threads: {threads}; prdc uses n_jobs=8 inside; "
          f"k={NEAREST_K}; rounds: {rounds}")
    rows = [benchmark_size(n, rounds, args) for n in sizes]
    headers = [
        "N", "D", "package s", "prdc s", "speedup (prdc/package)", "package peak MiB", "prdc peak MiB",
        "package P/R", "prdc P/R", "same P/R",
    ]
    print(format_table(headers, rows))
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
