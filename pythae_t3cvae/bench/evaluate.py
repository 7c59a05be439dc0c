"""Evaluate one saved model folder on a dataset preset: ``t3cvae-evaluate MODEL_DIR --preset NAME``.

Writes, under ``--output-dir``: ``evaluation.json`` (every number and the settings behind it: sample
counts, k, the FID weights hash, package versions), ``samples.png`` (one row per class), ``radar.png``
(per-class recall, precision and F1) and ``tau_curve.png`` (the metric against tau).
"""

import argparse
import json
import logging
import math
import os
import platform
import sys
from importlib import metadata

import torch

from ..metrics import plot_metric_curve, plot_prf_radars, plot_sample_grid
from ..models import CVAE, T3VAE
from ..data import load_preset
from .cli import _number, _quiet_pythae, _resolve_device, _rho
from .evaluation import evaluate_model, tail_classes
from .report import format_rho
from .runner import BenchConfig, prepare_context
from .training import load_model


def sampling_kind(model) -> str:
    """Return how to generate from a model: "mixture", "t3" (alternative prior) or "gaussian" (N(0, I))."""
    if isinstance(model, CVAE):  # T3CVAE included
        return "mixture"
    if isinstance(model, T3VAE):
        return "t3"
    return "gaussian"


def package_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in ("pythae-t3cvae", "pythae", "torch", "numpy", "scipy"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def evaluate_folder(model_dir: str, config: BenchConfig, rho) -> dict:
    """Evaluate the model saved in ``model_dir`` against ``config.preset`` and write the outputs."""
    if not os.path.isfile(os.path.join(model_dir, "model_config.json")):
        raise FileNotFoundError(f"no saved model in {model_dir}: expected {os.path.join(model_dir, 'model_config.json')}")
    model = load_model(model_dir).to(config.device)
    sampling = sampling_kind(model)

    balanced, context = prepare_context(config)
    data = load_preset(config.preset, root=config.root, rho=rho, data_seed=config.data_seed, flip=False)
    context.tail_classes = tail_classes(data.manifest["class_order"])
    if tuple(data.input_dim) != tuple(model.model_config.input_dim):
        raise ValueError(
            f"the model expects input_dim {tuple(model.model_config.input_dim)} but preset "
            f"{config.preset!r} gives {tuple(data.input_dim)}"
        )

    metrics, images, assigned = evaluate_model(model, sampling, context, config.samples_per_class, config.seed)
    sweep = []
    for factor in config.taus:
        point, _, _ = evaluate_model(model, sampling, context, config.samples_per_class, config.seed,
                                     tau_factor=factor, with_fid=config.sweep_fid)
        sweep.append({"tau_factor": factor, "mean_f1": point["mean_f1"], "tail_f1": point["tail_f1"],
                      **({"fid": point["fid"]} if "fid" in point else {})})

    out = config.output_dir
    name = type(model).__name__
    plot_sample_grid(images.cpu(), assigned.cpu(), os.path.join(out, "samples.png"), class_names=balanced.class_names)
    plot_prf_radars({name: metrics}, os.path.join(out, "radar.png"), class_names=balanced.class_names)
    key = "fid" if all("fid" in point for point in sweep) else "mean_f1"
    plot_metric_curve(config.taus, {name: [point.get(key, math.nan) for point in sweep]},
                      os.path.join(out, "tau_curve.png"), xlabel="tau / default tau", ylabel=key)

    result = {
        "model_dir": os.path.abspath(model_dir),
        "model": name,
        "sampling": sampling,
        "preset": config.preset,
        "rho_for_tail_classes": format_rho(rho),
        "metrics": metrics,
        "tau_sweep": sweep,
        "settings": {
            "samples_per_class": config.samples_per_class,
            "k": config.k,
            "seed": config.seed,
            "data_seed": config.data_seed,
            "fid_samples": context.fid_samples if context.fid is not None else 0,
            "fid_weights_sha256": context.fid.weights_sha256 if context.fid is not None else None,
            "classifier": os.path.join(out, "classifier.pt"),
            "n_test_images": int(len(context.test_labels)),
            "device": config.device,
        },
        "versions": package_versions(),
    }
    path = os.path.join(out, "evaluation.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=2, default=lambda value: None)
    return {"json": path, "result": result}


def build_parser() -> argparse.ArgumentParser:
    defaults = BenchConfig()
    parser = argparse.ArgumentParser(
        prog="t3cvae-evaluate",
        description="Evaluate a saved model folder on a dataset preset: per-class precision/recall/F1, "
                    "tail-class F1, class coverage, FID (optional), a tau sweep and plots.",
        epilog="example:\n  t3cvae-evaluate runs/rho_10/runs/C-t3VAE/final_model --preset digits-lt --rho 10",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("model_dir", help="folder written by model.save() or a pythae trainer (final_model/)")
    parser.add_argument("--preset", default=defaults.preset, help="dataset preset the model was trained on")
    parser.add_argument("--root", default=None, help="folder holding the preset's files")
    parser.add_argument("--rho", type=_rho, default=10.0,
                        help="imbalance ratio of the training set, which decides the tail classes")
    parser.add_argument("--data-seed", type=_number(int, 0), default=defaults.data_seed, help="data seed of the preset")
    parser.add_argument("--seed", type=_number(int, 0), default=defaults.seed, help="sampling seed")
    parser.add_argument("--samples-per-class", type=_number(int, 4), default=defaults.samples_per_class,
                        help="generated images per class")
    parser.add_argument("--k", type=_number(int, 1), default=defaults.k, help="k of precision/recall")
    parser.add_argument("--fid-samples", type=_number(int, 0), default=defaults.fid_samples,
                        help="images per side for FID (0 skips it)")
    parser.add_argument("--fid-weights", default=None, help="TorchScript InceptionV3 weights file")
    parser.add_argument("--sweep-fid", action="store_true", help="compute FID at every --tau value")
    parser.add_argument("--tau", type=_number(float, 0.0, low_inclusive=False), nargs="+", default=defaults.taus,
                        dest="taus", help="sampling-scale multipliers (1 = the model's default tau)")
    parser.add_argument("--classifier-epochs", type=_number(int, 1), default=defaults.classifier_epochs,
                        help="epochs of the feature classifier (reused from --output-dir when present)")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="auto", help="device")
    parser.add_argument("--output-dir", default="t3cvae-evaluation", help="folder for the outputs")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    _quiet_pythae()
    try:
        options = {key: value for key, value in vars(args).items() if key not in ("model_dir", "rho")}
        config = BenchConfig(**{**options, "device": _resolve_device(args.device)})
        written = evaluate_folder(args.model_dir, config, args.rho)
    except (ValueError, FileNotFoundError) as error:
        print(f"t3cvae-evaluate: error: {error}", file=sys.stderr)
        return 2
    metrics = written["result"]["metrics"]
    print(f"mean F1 {metrics['mean_f1']:.3f}, tail F1 {metrics['tail_f1']:.3f}"
          + (f", FID {metrics['fid']:.2f}" if "fid" in metrics else "") + f"; wrote {written['json']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
