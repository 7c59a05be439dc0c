"""Time one training epoch of T3CVAE as the training set grows and as the number of classes grows.

An epoch is one call of pythae's ``BaseTrainer.train_step``: its data loader (batch 64, shuffled),
forward, backward, Adam step and ``loss.item()`` for every batch. pythae's VAE with a copy of the
same encoder and decoder runs in the same rounds, alternating with T3CVAE, as the reference.

Data:
    rho      the preset (default ``digits-lt``, 8 x 8 images, network conv8) at imbalance ratios
             rho = n_max / n_min from 100 to 1, so N grows from the smallest to the full long-tailed
             set; per-sample time should stay flat if the cost is linear in N
    classes  synthetic data of fixed size (--class-samples images of the preset's shape, uniform
             in [0, 1]) with K = 10 ... 100 uniformly drawn labels. Only the K x m class-mean table
             and its gather grow with K, so the epoch time should stay flat in K

Example:
    python benchmarks/bench_scaling.py --quick
    python benchmarks/bench_scaling.py --preset fashion-mnist-lt --width 0.25 --rhos 100 10 1 --repeats 3
    python benchmarks/bench_scaling.py --preset cifar10-lt --root DATA/cifar10 --rhos 100 10 1
"""

import argparse
import copy
import logging
import math
import tempfile

import torch
from pythae.data.datasets import BaseDataset
from pythae.models import VAE, VAEConfig
from pythae.trainers import BaseTrainer, BaseTrainerConfig
from pythae.trainers.training_callbacks import CallbackHandler, TrainingCallback

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
    resolve_device,
    Timing,
)
from pythae_t3cvae import T3CVAE, T3CVAEConfig, class_counts
from pythae_t3cvae.data import list_presets, load_preset
from pythae_t3cvae.networks import network_for_input

LATENT_DIM = 16
BATCH_SIZE = 64


def float_at_least(low: float):
    """Return an argparse type that accepts finite floats >= low."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not (math.isfinite(value) and value >= low):
            raise argparse.ArgumentTypeError(f"expected a finite number >= {low:g}, got {text}")
        return value

    return parse


def build_pair(dataset, n_classes: int, input_dim, width: float):
    """Return T3CVAE and pythae's VAE with the same named network and initial weights."""
    config = T3CVAEConfig(
        input_dim=input_dim, latent_dim=LATENT_DIM, n_classes=n_classes,
        class_counts=class_counts(dataset, n_classes), network=network_for_input(input_dim), network_width=width,
    )
    model = T3CVAE(config)
    reference = VAE(
        VAEConfig(input_dim=input_dim, latent_dim=LATENT_DIM, reconstruction_loss="mse"),
        encoder=copy.deepcopy(model.encoder), decoder=copy.deepcopy(model.decoder),
    )
    return model, reference


def epoch_function(model, dataset, device: torch.device, output_dir: str, epochs: int):
    """Return a function running ``epochs`` pythae training epochs of ``model`` on ``dataset``."""
    config = BaseTrainerConfig(
        output_dir=output_dir, per_device_train_batch_size=BATCH_SIZE, num_epochs=1,
        learning_rate=1e-3, no_cuda=device.type != "cuda",
    )
    trainer = BaseTrainer(model, dataset, training_config=config)
    trainer.prepare_training()  # optimizer, scheduler, output folder and callbacks, as train() does
    # Keep only the default no-op callback: the progress bar and console printer would write every
    # step to the terminal, the same cost for both models, but clutter the table.
    trainer.callback_handler = CallbackHandler(callbacks=[TrainingCallback()], model=model)

    def run() -> None:
        for epoch in range(1, epochs + 1):
            trainer.train_step(epoch)

    return run


def time_epochs(dataset, n_classes: int, input_dim, args, device: torch.device, rounds: int) -> dict:
    """Time T3CVAE and VAE epochs on ``dataset``, alternating them; return their timings."""
    torch.manual_seed(args.seed)
    model, reference = build_pair(dataset, n_classes, input_dim, args.width)
    with tempfile.TemporaryDirectory() as output_dir:
        functions = {
            "T3CVAE": epoch_function(model, dataset, device, output_dir, args.epochs_per_round),
            "VAE": epoch_function(reference, dataset, device, output_dir, args.epochs_per_round),
        }
        interleaved_times(functions, 1, device)  # warm-up
        times = interleaved_times(functions, rounds, device)
    # Per-epoch seconds for the tables.
    return {name: [Timing(t.wall / args.epochs_per_round, t.cpu / args.epochs_per_round) for t in series]
            for name, series in times.items()}


def table_row(label: str, n: int, n_classes: int, times: dict) -> list:
    """Return one table row: data, N, K, seconds per epoch and per sample, and the T3CVAE/VAE ratio."""
    seconds = median_seconds(times["T3CVAE"])
    return [
        label, n, n_classes, f"{seconds:.3f}", f"{1e6 * seconds / n:.0f}",
        f"{median_seconds(times['VAE']):.3f}", f"{median_ratio(times['T3CVAE'], times['VAE']):.3f}",
    ]


def data_rows(args, device, rounds) -> list:
    """Return table rows for the preset at every rho."""
    rows = []
    for rho in args.rhos:
        data = load_preset(args.preset, root=args.root, rho=rho, data_seed=args.seed)
        n_classes = len(data.class_names)
        times = time_epochs(data.train, n_classes, data.input_dim, args, device, rounds)
        rows.append(table_row(f"{args.preset} rho={rho:g}", len(data.train), n_classes, times))
    return rows


def class_rows(args, device, rounds) -> list:
    """Return table rows for synthetic data of fixed size with a growing number of classes."""
    input_dim = load_preset(args.preset, root=args.root, rho=1.0, data_seed=args.seed).input_dim
    generator = torch.Generator().manual_seed(args.seed)
    images = torch.rand(args.class_samples, *input_dim, generator=generator)

    rows = []
    for n_classes in args.classes:
        labels = torch.randint(0, n_classes, (args.class_samples,), generator=generator).float()
        missing = n_classes - torch.unique(labels).numel()
        if missing:
            raise ValueError(
                f"{missing} of K={n_classes} classes drew no sample among --class-samples "
                f"{args.class_samples}; use --class-samples of at least 10 * K"
            )
        dataset = BaseDataset(images, labels)
        times = time_epochs(dataset, n_classes, input_dim, args, device, rounds)
        rows.append(table_row("synthetic", args.class_samples, n_classes, times))
    return rows


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0], default_repeats=9)
    parser.add_argument(
        "--preset", default="digits-lt",
        help=f"dataset preset of the rho sweep, one of {', '.join(list_presets())} (default digits-lt)",
    )
    parser.add_argument(
        "--root", default=None,
        help="folder with the preset's files; not needed for digits-lt, and fashion-mnist-lt defaults to "
        "/usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist)",
    )
    parser.add_argument(
        "--rhos", type=float_at_least(1.0), nargs="+", default=None,
        help="imbalance ratios, each >= 1 (default 100 50 20 10 5 2 1; --quick: 100 10 1)",
    )
    parser.add_argument(
        "--classes", type=bounded_int(2, 10_000), nargs="+", default=None,
        help="numbers of classes K, each 2..10000 (default 10 20 50 100; --quick: 10 100)",
    )
    parser.add_argument(
        "--class-samples", type=bounded_int(BATCH_SIZE, 10_000_000), default=1440,
        help=f"size of the synthetic set of the class sweep, {BATCH_SIZE}..10000000 (default 1440, digits-lt at rho=1)",
    )
    parser.add_argument(
        "--epochs-per-round", type=bounded_int(1, 1000), default=None,
        help="epochs per timed round, 1..1000 (default 3; --quick: 2)",
    )
    parser.add_argument(
        "--width", type=float_at_least(0.01), default=1.0,
        help="channel multiplier (network_width) of the named network, >= 0.01 (default 1)",
    )
    args = parser.parse_args()
    device = resolve_device(parser, args.device)
    apply_threads(args.threads)
    # pythae's trainer module sets its own logger to INFO and logs every trainer's setup.
    logging.getLogger("pythae.trainers.base_trainer.base_trainer").setLevel(logging.WARNING)
    args.rhos = args.rhos or ([100.0, 10.0, 1.0] if args.quick else [100.0, 50.0, 20.0, 10.0, 5.0, 2.0, 1.0])
    args.classes = args.classes or ([10, 100] if args.quick else [10, 20, 50, 100])
    rounds = args.repeats or (3 if args.quick else 9)
    args.epochs_per_round = args.epochs_per_round or (2 if args.quick else 3)

    print(machine_line(device))
    try:
        rows = data_rows(args, device, rounds) + class_rows(args, device, rounds)
    except (ValueError, FileNotFoundError) as error:  # e.g. an unknown preset, a missing file, rho too large
        parser.error(str(error))
    print(
        f"rounds: {rounds} of {args.epochs_per_round} epochs; batch {BATCH_SIZE}; latent {LATENT_DIM}; "
        "medians over rounds; T3CVAE/VAE = median of per-round time ratios"
    )
    headers = ["data", "N", "K", "T3CVAE s/epoch", "T3CVAE us/sample", "VAE s/epoch", "T3CVAE/VAE"]
    print(format_table(headers, rows))
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
