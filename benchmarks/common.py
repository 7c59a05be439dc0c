"""Helpers shared by the benchmark scripts: arguments, interleaved timing, ratios, machine facts.

Every script times this package and a named reference in the same process, alternating them round
by round in a shuffled order, so background load hits both alike.
The reported number is the median over rounds of the per-round ratio package / reference.
"""

import argparse
import os
import platform
import random
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence

import threadpoolctl
import torch


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """Return an argparse type that accepts integers in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected an integer in [{low}, {high}], got {value}")
        return value

    return parse


def base_parser(description: str, default_repeats: int, default_threads: int = 1) -> argparse.ArgumentParser:
    """Return a parser with the options every script takes: --quick, --repeats, --device, --threads."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer rounds (under a minute per script on 2 CPU cores)")
    parser.add_argument(
        "--repeats", type=bounded_int(1, 1000), default=None,
        help=f"timed rounds per measurement, 1..1000 (default {default_repeats}, fewer with --quick)",
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="device to run on (default cpu)")
    parser.add_argument(
        "--threads", type=bounded_int(0, 1024), default=default_threads,
        help=f"CPU threads for torch and for NumPy's BLAS, 0..1024; 0 keeps the libraries' defaults "
        f"(default {default_threads}). On a machine shared with other jobs, small multi-threaded "
        "kernels wait on each other and their timings scatter by a factor of several",
    )
    parser.add_argument("--seed", type=bounded_int(0, 2**31 - 1), default=0, help="random seed, 0..2147483647 (default 0)")
    return parser


def resolve_device(parser: argparse.ArgumentParser, name: str) -> torch.device:
    """Return the torch device named by --device, or stop with a parser error when CUDA is missing."""
    if name == "cuda" and not torch.cuda.is_available():
        parser.error(
            "--device cuda was requested but torch.cuda.is_available() is False; use --device cpu, or "
            "check that CUDA_VISIBLE_DEVICES is not empty and that torch is a CUDA build"
        )
    return torch.device(name)


def apply_threads(threads: int) -> None:
    """Limit torch and the BLAS libraries NumPy loaded to ``threads`` threads; 0 changes nothing."""
    if threads > 0:
        torch.set_num_threads(threads)
        # threadpoolctl comes with scikit-learn, which prdc needs. The limit lasts for the process.
        threadpoolctl.threadpool_limits(limits=threads)


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels on CUDA, so a wall-clock reading covers them; no-op on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass(frozen=True)
class Timing:
    """Seconds of one timed call: wall clock, and CPU time of this process (all its threads)."""

    wall: float
    cpu: float


def time_call(function: Callable[[], object], device: torch.device) -> Timing:
    """Return the wall-clock and process CPU seconds of one call of ``function``.

    On CUDA both readings include waiting for the queued kernels. CPU time leaves out the time the
    process waited for a core, so it is the steadier reading on a machine shared with other jobs.
    Wall time is what a user waits.
    """
    synchronize(device)
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    synchronize(device)
    return Timing(time.perf_counter() - wall, time.process_time() - cpu)


def interleaved_times(
    functions: Dict[str, Callable[[], object]], rounds: int, device: torch.device, seed: int = 0
) -> Dict[str, List[Timing]]:
    """Time every function once per round, in a new random order each round; return timings per name.

    A fixed cyclic order gives each function the same predecessor every round, and what that
    predecessor leaves behind (freed memory, warm caches) biased ratios of identical code by up to
    8% in the sampling benchmark. Shuffling spreads those effects over all functions.
    """
    names = list(functions)
    order = random.Random(seed)
    times = {name: [] for name in names}
    for _ in range(rounds):
        order.shuffle(names)
        for name in names:
            times[name].append(time_call(functions[name], device))
    return times


def median_seconds(timings: Sequence[Timing], clock: str = "wall") -> float:
    """Return the median of one clock ("wall" or "cpu") over rounds."""
    return statistics.median(getattr(timing, clock) for timing in timings)


def round_ratios(numerator: Sequence[Timing], denominator: Sequence[Timing], clock: str = "wall") -> List[float]:
    """Return numerator / denominator of one clock for every round."""
    return [getattr(a, clock) / getattr(b, clock) for a, b in zip(numerator, denominator)]


def median_ratio(numerator: Sequence[Timing], denominator: Sequence[Timing], clock: str = "wall") -> float:
    """Return the median over rounds of the per-round ratio numerator / denominator."""
    return statistics.median(round_ratios(numerator, denominator, clock))


def ratio_spread(numerator: Sequence[Timing], denominator: Sequence[Timing], clock: str = "wall") -> str:
    """Return the min..max of the per-round ratios, as text for the tables."""
    ratios = round_ratios(numerator, denominator, clock)
    return f"{min(ratios):.3f}..{max(ratios):.3f}"


def ratio_cells(numerator: Sequence[Timing], denominator: Sequence[Timing]) -> List[str]:
    """Return the median wall-time ratio and its min..max, formatted as two table cells."""
    return [f"{median_ratio(numerator, denominator):.3f}", ratio_spread(numerator, denominator)]


def cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo, or platform.processor() where that is missing."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    """Return the 1, 5 and 15 minute load averages, as ``uptime`` prints them."""
    load_1min, load_5min, load_15min = os.getloadavg()
    return f"{load_1min:.2f}, {load_5min:.2f}, {load_15min:.2f}"


def machine_line(device: torch.device) -> str:
    """Return one line with the CPU, core count, torch threads, torch version, device and load."""
    text = (
        f"machine: {cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__} with "
        f"{torch.get_num_threads()} threads, device {device}"
    )
    if device.type == "cuda":
        text += f" ({torch.cuda.get_device_name(device)})"
    return text + f", load average {load_average()}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Return rows as a Markdown table with columns padded to a common width."""
    cells = [[str(value) for value in row] for row in rows]
    widths = [max(len(header), *(len(row[i]) for row in cells)) for i, header in enumerate(headers)]

    def line(values):
        return "| " + " | ".join(value.ljust(width) for value, width in zip(values, widths)) + " |"

    separator = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(headers), separator] + [line(row) for row in cells])
