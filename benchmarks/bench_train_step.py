"""Time one training step of T3CVAE, T3VAE and CVAE against pythae's VAE on the same networks.

A step is what pythae's BaseTrainer does per batch: forward with epoch/dataset_size/uses_ddp,
zero_grad, backward, Adam step, then ``loss.item()``. All four models start from the same encoder
and decoder weights and see the same batch (float32 images in [0, 1] and float32 labels, as
pythae's BaseDataset stores them). The conditional models use uniform class weighting with
``class_counts`` set, the configuration the README recommends.

Architectures:
    conv32  this package's reference network, input (3, 32, 32), latent 64, batch 64
    mlp     pythae's default MLPs (784-512-latent and back), input (1, 28, 28), latent 16, batch 256

Example:
    python benchmarks/bench_train_step.py --quick
    python benchmarks/bench_train_step.py --repeats 30 --device cuda
"""

import copy
import dataclasses
from dataclasses import dataclass
from typing import Dict, List, Tuple

import torch
from pythae.data.datasets import DatasetOutput
from pythae.models import VAE, VAEConfig

import pythae_t3cvae  # noqa: F401  (registers the models with pythae)
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
from pythae_t3cvae import CVAE, T3CVAE, T3VAE, CVAEConfig, T3CVAEConfig, T3VAEConfig

N_CLASSES = 10
REFERENCE = "VAE"


@dataclass(frozen=True)
class Architecture:
    """One benchmarked network setting."""

    name: str
    input_dim: Tuple[int, int, int]
    latent_dim: int
    batch_size: int
    network: str = None  # a name for build_networks, or None for pythae's default MLPs
    steps_per_round: int = 5


ARCHITECTURES = {
    "conv32": Architecture("conv32", (3, 32, 32), 64, 64, network="conv32", steps_per_round=3),
    "mlp": Architecture("mlp", (1, 28, 28), 16, 256, steps_per_round=20),
}


def build_models(arch: Architecture, class_counts: List[int], device: torch.device) -> Dict[str, torch.nn.Module]:
    """Build the package models and pythae's VAE with identical encoder and decoder weights."""
    common = dict(input_dim=arch.input_dim, latent_dim=arch.latent_dim, network=arch.network)
    conditional = dict(n_classes=N_CLASSES, class_counts=class_counts)
    models = {
        "T3CVAE": T3CVAE(T3CVAEConfig(**common, **conditional)),
        "T3VAE": T3VAE(T3VAEConfig(**common)),
        "CVAE": CVAE(CVAEConfig(**common, **conditional)),
    }
    source = models["T3CVAE"]
    for model in models.values():
        model.encoder.load_state_dict(source.encoder.state_dict())
        model.decoder.load_state_dict(source.decoder.state_dict())

    reference_config = VAEConfig(input_dim=arch.input_dim, latent_dim=arch.latent_dim, reconstruction_loss="mse")
    models[REFERENCE] = VAE(
        reference_config, encoder=copy.deepcopy(source.encoder), decoder=copy.deepcopy(source.decoder)
    )
    return {name: model.to(device).train() for name, model in models.items()}


def make_batch(arch: Architecture, device: torch.device, generator: torch.Generator) -> DatasetOutput:
    """Return one batch as pythae's data loader gives it: images in [0, 1] and float32 labels."""
    data = torch.rand(arch.batch_size, *arch.input_dim, generator=generator)
    labels = torch.randint(0, N_CLASSES, (arch.batch_size,), generator=generator).float()
    return DatasetOutput(data=data.to(device), labels=labels.to(device))


def make_step(model, batch: DatasetOutput, steps: int, dataset_size: int):
    """Return a function running ``steps`` training steps of ``model`` on ``batch``, pythae-trainer style."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def run() -> None:
        for _ in range(steps):
            output = model(batch, epoch=1, dataset_size=dataset_size, uses_ddp=False)
            optimizer.zero_grad()
            output.loss.backward()
            optimizer.step()
            output.loss.item()

    return run


def benchmark_architecture(arch: Architecture, rounds: int, device: torch.device, seed: int) -> List[list]:
    """Time the four models on one architecture and return the table rows."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    class_counts = [1000 // (k + 1) for k in range(N_CLASSES)]
    models = build_models(arch, class_counts, device)
    batch = make_batch(arch, device, generator)
    steps = {name: make_step(model, batch, arch.steps_per_round, sum(class_counts)) for name, model in models.items()}

    interleaved_times(steps, 2, device)  # warm-up: allocator, Adam state, first-call dispatch
    times = interleaved_times(steps, rounds, device)

    rows = []
    for name in ("T3CVAE", "T3VAE", "CVAE", REFERENCE):
        milliseconds = 1000 * median_seconds(times[name]) / arch.steps_per_round
        rows.append([
            arch.name, arch.batch_size, name, f"{milliseconds:.2f}",
            *ratio_cells(times[name], times[REFERENCE]),
            f"{median_ratio(times[name], times[REFERENCE], clock='cpu'):.3f}",
        ])
    return rows


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0], default_repeats=30)
    parser.add_argument(
        "--architectures", nargs="+", choices=sorted(ARCHITECTURES), default=["conv32", "mlp"],
        help="architectures to time (default: conv32 mlp)",
    )
    parser.add_argument(
        "--steps-per-round", type=bounded_int(1, 1000), default=None,
        help="training steps per timed round, 1..1000 (default: 3 for conv32, 20 for mlp)",
    )
    args = parser.parse_args()
    device = resolve_device(parser, args.device)
    apply_threads(args.threads)
    rounds = args.repeats or (8 if args.quick else 30)

    print(machine_line(device))
    rows = []
    for name in args.architectures:
        arch = ARCHITECTURES[name]
        if args.steps_per_round is not None:
            arch = dataclasses.replace(arch, steps_per_round=args.steps_per_round)
        rows += benchmark_architecture(arch, rounds, device, args.seed)

    print(f"rounds: {rounds}; ratio = median over rounds of (model time / {REFERENCE} time) in the same round")
    headers = ["network", "batch", "model", "wall ms/step", f"wall ratio vs {REFERENCE}", "wall min..max", "CPU-time ratio"]
    print(format_table(headers, rows))
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
