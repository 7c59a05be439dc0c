"""Time this package's samplers against pythae's NormalSampler on the same decoder (images per second).

Every model here holds the same decoder module: T3CVAE and CVAE sampled by ClassMixtureSampler,
T3VAE by T3Sampler, and pythae's VAE by pythae's NormalSampler.
Each call generates --samples images with --batch-size (default 500, both samplers' default) and
returns them as one tensor. pythae's NormalSampler.sample does not disable autograd, so it records
the decoder's graph, which this package's samplers do not. The second reference, "NormalSampler, no_grad", wraps
the same call in torch.no_grad(), so against it the ratio isolates the cost of the latent draws.

pythae's NormalSampler moves its model to CUDA whenever CUDA is available, so with --device cpu the
script stops on a machine with CUDA; hide the GPU with CUDA_VISIBLE_DEVICES= to compare on the CPU.

Example:
    python benchmarks/bench_sampling.py --quick
    python benchmarks/bench_sampling.py --repeats 20 --device cuda
"""

import copy
from dataclasses import dataclass
from typing import Callable, Dict, Tuple

import torch
from pythae.models import VAE, VAEConfig
from pythae.samplers import NormalSampler

from common import (
    apply_threads,
    base_parser,
    bounded_int,
    format_table,
    interleaved_times,
    load_average,
    machine_line,
    median_ratio,
    median_seconds,
    ratio_cells,
    resolve_device,
)
from pythae_t3cvae import (
    CVAE,
    T3CVAE,
    T3VAE,
    ClassMixtureSampler,
    CVAEConfig,
    T3CVAEConfig,
    T3Sampler,
    T3VAEConfig,
)

N_CLASSES = 10
DEFAULT_BATCH_SIZE = 500
REFERENCE = "NormalSampler"
REFERENCE_NO_GRAD = "NormalSampler, no_grad"


@dataclass(frozen=True)
class Architecture:
    """One benchmarked decoder and the number of images generated per timed call."""

    name: str
    input_dim: Tuple[int, int, int]
    latent_dim: int
    samples: int
    quick_samples: int
    network: str = None  # a name for build_networks, or None for pythae's default MLP decoder


ARCHITECTURES = {
    "conv32": Architecture("conv32", (3, 32, 32), 64, samples=1000, quick_samples=250, network="conv32"),
    "mlp": Architecture("mlp", (1, 28, 28), 16, samples=20000, quick_samples=5000),
}


def build_models(arch: Architecture, device: torch.device) -> Dict[str, torch.nn.Module]:
    """Build the three package models and pythae's VAE, all sharing the decoder module of the T3CVAE.

    One shared module keeps the weights' memory placement out of the comparison. With copies of the
    weights, sampling from the original module ran up to 9% faster than from a copy (MLP decoder).
    """
    common = dict(input_dim=arch.input_dim, latent_dim=arch.latent_dim, network=arch.network)
    models = {
        "T3CVAE": T3CVAE(T3CVAEConfig(**common, n_classes=N_CLASSES)),
        "CVAE": CVAE(CVAEConfig(**common, n_classes=N_CLASSES)),
        "T3VAE": T3VAE(T3VAEConfig(**common)),
    }
    decoder = models["T3CVAE"].decoder
    for model in models.values():
        model.decoder = decoder
    reference_config = VAEConfig(input_dim=arch.input_dim, latent_dim=arch.latent_dim, reconstruction_loss="mse")
    models["VAE"] = VAE(reference_config, encoder=copy.deepcopy(models["T3CVAE"].encoder), decoder=decoder)
    return {name: model.to(device).eval() for name, model in models.items()}


def build_samplers(
    models: Dict[str, torch.nn.Module], num_samples: int, batch_size: int
) -> Dict[str, Callable[[], object]]:
    """Return one generating function per benchmarked sampler, each producing ``num_samples`` images."""
    class_mixture = ClassMixtureSampler(models["T3CVAE"])
    gaussian_mixture = ClassMixtureSampler(models["CVAE"])
    student = T3Sampler(models["T3VAE"])
    normal = NormalSampler(models["VAE"])

    def normal_no_grad():
        with torch.no_grad():
            return normal.sample(num_samples, batch_size=batch_size)

    return {
        "ClassMixtureSampler (T3CVAE)": lambda: class_mixture.sample(num_samples, batch_size=batch_size),
        "ClassMixtureSampler (T3CVAE), seed=0": lambda: class_mixture.sample(num_samples, batch_size=batch_size, seed=0),
        "ClassMixtureSampler (CVAE)": lambda: gaussian_mixture.sample(num_samples, batch_size=batch_size),
        "T3Sampler (T3VAE)": lambda: student.sample(num_samples, batch_size=batch_size),
        REFERENCE: lambda: normal.sample(num_samples, batch_size=batch_size),
        REFERENCE_NO_GRAD: normal_no_grad,
    }


def benchmark_architecture(
    arch: Architecture, num_samples: int, batch_size: int, rounds: int, device: torch.device, seed: int
) -> list:
    """Time every sampler on one decoder and return the table rows."""
    torch.manual_seed(seed)
    samplers = build_samplers(build_models(arch, device), num_samples, batch_size)
    interleaved_times(samplers, 1, device)  # warm-up
    times = interleaved_times(samplers, rounds, device)

    rows = []
    for name in samplers:
        images_per_second = num_samples / median_seconds(times[name])
        rows.append([
            arch.name, num_samples, min(batch_size, num_samples), name, f"{images_per_second:.0f}",
            *ratio_cells(times[name], times[REFERENCE]),
            f"{median_ratio(times[name], times[REFERENCE_NO_GRAD]):.3f}",
        ])
    return rows


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0], default_repeats=15)
    parser.add_argument(
        "--architectures", nargs="+", choices=sorted(ARCHITECTURES), default=["conv32", "mlp"],
        help="decoders to time (default: conv32 mlp)",
    )
    parser.add_argument(
        "--samples", type=bounded_int(1, 10_000_000), default=None,
        help="images per timed call, 1..10000000 (default: 1000 for conv32 and 20000 for mlp; "
        "--quick: 250 and 5000)",
    )
    parser.add_argument(
        "--batch-size", type=bounded_int(1, 10_000_000), default=DEFAULT_BATCH_SIZE,
        help=f"images decoded at once by every sampler, 1..10000000 (default {DEFAULT_BATCH_SIZE})",
    )
    args = parser.parse_args()
    device = resolve_device(parser, args.device)
    if device.type == "cpu" and torch.cuda.is_available():
        parser.error(
            "pythae's NormalSampler would move its model to CUDA; run with CUDA_VISIBLE_DEVICES= "
            "to compare on the CPU, or pass --device cuda"
        )
    apply_threads(args.threads)
    rounds = args.repeats or (6 if args.quick else 15)

    print(machine_line(device))
    rows = []
    for name in args.architectures:
        arch = ARCHITECTURES[name]
        num_samples = args.samples or (arch.quick_samples if args.quick else arch.samples)
        rows += benchmark_architecture(arch, num_samples, args.batch_size, rounds, device, args.seed)

    print(f"rounds: {rounds}; time ratio = median over rounds of (sampler time / reference time)")
    headers = ["decoder", "images", "batch", "sampler", "images/s", f"time ratio vs {REFERENCE}", "min..max", f"vs {REFERENCE_NO_GRAD}"]
    print(format_table(headers, rows))
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
