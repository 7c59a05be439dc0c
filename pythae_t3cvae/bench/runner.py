"""The comparison: train the model grid on a long-tailed preset at each rho, evaluate, write results.

Output folder layout::

    <output_dir>/
        results.json, results.csv, table.md     every number and setting; the tables
        classifier.pt                           feature classifier, trained on balanced data
        rho_<rho>/
            manifest.json                       which images were kept (see pythae_t3cvae.data)
            runs/<model>/final_model/           each trained model (reloads with AutoModel)
            samples_<model>.png                 one row per class
            radar.png, tau_curve.png            per-class precision/recall/F1; metric against tau
"""

import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field
from typing import List, Optional, Sequence

import torch
from torch.utils.data import Subset

from ..data import balanced_indices, load_preset
from ..metrics import FIDMetric, classifier_accuracy, classifier_features, load_classifier, save_classifier
from ..metrics import plot_metric_curve, plot_prf_radars, plot_sample_grid, train_classifier
from ..networks import network_for_input
from .evaluation import EvalContext, evaluate_model, stack_dataset, tail_classes
from .grid import MODEL_NAMES, GridSettings, select_models
from .report import format_rho, write_results
from .training import train_run

logger = logging.getLogger(__name__)


@dataclass
class BenchConfig:
    """Every setting of one comparison run (the command-line options map onto these fields)."""

    preset: str = "digits-lt"
    root: Optional[str] = None
    rhos: List[Optional[float]] = field(default_factory=lambda: [10.0])
    models: List[str] = field(default_factory=list)  # empty: the whole grid
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-3
    latent_dim: Optional[int] = None  # None: 64 for images of 32 px and more, else 16
    nu: float = 10.0
    beta: float = 0.25
    network_width: float = 1.0
    seed: int = 0
    data_seed: int = 0
    device: str = "cpu"
    samples_per_class: int = 100
    fid_samples: int = 0
    fid_weights: Optional[str] = None
    sweep_fid: bool = False
    taus: List[float] = field(default_factory=lambda: [0.5, 1.0, 2.0])
    classifier_epochs: int = 10
    classifier_per_class: int = 1000
    checkpoint_every: int = 5
    plots: bool = True
    output_dir: str = "t3cvae-bench"
    k: int = 3


def _latent_dim(config: BenchConfig, input_dim) -> int:
    if config.latent_dim is not None:
        return config.latent_dim
    return 64 if input_dim[-1] >= 32 else 16


def _classifier(config: BenchConfig, balanced, n_classes: int):
    """Load the feature classifier of this output folder, or train it on balanced training data."""
    path = os.path.join(config.output_dir, "classifier.pt")
    if os.path.isfile(path):
        return load_classifier(path, device=config.device)
    # A seeded class-balanced subset keeps the classifier to minutes on a CPU for large datasets.
    labels = torch.as_tensor(balanced.train.labels)
    per_class = min(config.classifier_per_class, int(torch.bincount(labels).min()))
    subset = Subset(balanced.train, balanced_indices(labels.numpy(), config.data_seed, per_class).tolist())
    logger.info("training the feature classifier on %d balanced training images", len(subset))
    classifier = train_classifier(
        subset, n_classes=n_classes, epochs=config.classifier_epochs, seed=config.seed, device=config.device
    )
    accuracy = classifier_accuracy(classifier, balanced.test)
    logger.info("feature classifier test accuracy: %.3f", accuracy)
    save_classifier(classifier, path)
    with open(os.path.join(config.output_dir, "classifier.json"), "w") as f:
        json.dump({"test_accuracy": accuracy, "train_images": len(subset), "epochs": config.classifier_epochs}, f)
    return classifier


def _fid_metric(config: BenchConfig):
    if config.fid_samples <= 0:
        logger.info("FID skipped (--fid-samples 0)")
        return None
    try:
        return FIDMetric(weights_path=config.fid_weights, device=config.device)
    except FileNotFoundError as error:
        logger.warning("FID skipped: %s", error)
        return None


def _balanced_rho(preset: str):
    # CelebA keeps its natural imbalance (rho None); the classifier subset below balances it.
    return None if preset.startswith("celeba") else 1.0


def prepare_context(config: BenchConfig):
    """Load the balanced data, train (or load) the feature classifier and set up FID.

    Returns the balanced ``LongTailData`` and the ``EvalContext`` every model is compared against.
    """
    os.makedirs(config.output_dir, exist_ok=True)
    balanced = load_preset(
        config.preset, root=config.root, rho=_balanced_rho(config.preset), data_seed=config.data_seed, flip=False
    )
    n_classes = len(balanced.class_names)
    classifier = _classifier(config, balanced, n_classes)
    test_images, test_labels = stack_dataset(balanced.test)
    context = EvalContext(
        test_images=test_images,
        test_labels=test_labels,
        test_features=classifier_features(classifier, test_images),
        classifier=classifier,
        n_classes=n_classes,
        tail_classes=[],
        k=config.k,
    )
    context.fid = _fid_metric(config)
    if context.fid is not None:
        # The real side uses at most fid_samples test images too (a seeded subset), so both sides match.
        context.fid_samples = config.fid_samples
        keep = torch.randperm(len(test_images), generator=torch.Generator().manual_seed(config.data_seed))
        context.fid.update(test_images[keep[: config.fid_samples]], real=True)
    return balanced, context


def run_experiment(config: BenchConfig) -> dict:
    """Run the whole comparison and write its results; return the paths written."""
    load = dict(name=config.preset, root=config.root, data_seed=config.data_seed)

    # 1. Data, the feature classifier (balanced training data) and the FID reference.
    balanced, context = prepare_context(config)
    n_classes = context.n_classes

    grid = select_models(config.models or MODEL_NAMES)
    runs = []
    for rho in config.rhos:
        runs += _run_rho(config, load, rho, grid, context, n_classes, balanced.class_names)

    settings = asdict(config)
    settings["classifier"] = os.path.join(config.output_dir, "classifier.pt")
    settings["fid_weights_sha256"] = context.fid.weights_sha256 if context.fid is not None else None
    return write_results(config.output_dir, settings, runs, [m.name for m in grid], config.rhos)


def _run_rho(config, load, rho, grid, context, n_classes, class_names) -> list:
    rho_dir = os.path.join(config.output_dir, f"rho_{format_rho(rho)}")
    data = load_preset(**load, rho=rho, flip=True)
    os.makedirs(rho_dir, exist_ok=True)
    data.write_manifest(os.path.join(rho_dir, "manifest.json"))

    train_counts = torch.bincount(torch.as_tensor(data.train.labels), minlength=n_classes).tolist()
    context.tail_classes = tail_classes(data.manifest["class_order"])
    logger.info("rho=%s: %d training images, class counts %s", format_rho(rho), len(data.train), train_counts)

    network = network_for_input(data.input_dim)
    if network is None:
        raise ValueError(f"no reference network for input shape {data.input_dim}; expected 8, 28, 32 or 64 px squares")
    settings = GridSettings(
        input_dim=data.input_dim, latent_dim=_latent_dim(config, data.input_dim), n_classes=n_classes,
        class_counts=train_counts, network=network, network_width=config.network_width,
        nu=config.nu, beta=config.beta,
    )

    runs, per_class, sweeps = [], {}, {}
    for grid_model in grid:
        run_name = f"{grid_model.name} rho={format_rho(rho)}"
        model, status = train_run(
            lambda: grid_model.build(settings), data.train, os.path.join(rho_dir, "runs", grid_model.name),
            config.epochs, config.batch_size, config.learning_rate, config.seed, config.device,
            config.checkpoint_every, run_name,
        )
        model = model.to(config.device)
        logger.info("%s: %s, evaluating", run_name, status)

        metrics, images, assigned = evaluate_model(
            model, grid_model.sampling, context, config.samples_per_class, config.seed
        )
        sweep = [
            {"tau_factor": factor, **(
                _sweep_summary(metrics) if factor == 1.0
                else _sweep_summary(evaluate_model(
                    model, grid_model.sampling, context, config.samples_per_class, config.seed,
                    tau_factor=factor, with_fid=config.sweep_fid,
                )[0])
            )}
            for factor in config.taus
        ]
        runs.append({
            "model": grid_model.name, "rho": rho, "status": status, "beta": config.beta if grid_model.beta_variant else 1.0,
            "class_counts": train_counts, "tail_classes": context.tail_classes, "metrics": metrics, "tau_sweep": sweep,
        })
        per_class[grid_model.name] = metrics
        sweeps[grid_model.name] = sweep
        logger.info("%s: mean F1 %.3f, tail F1 %.3f%s", run_name, metrics["mean_f1"], metrics["tail_f1"],
                    f", FID {metrics['fid']:.2f}" if "fid" in metrics else "")
        if config.plots:
            plot_sample_grid(images.cpu(), assigned.cpu(), os.path.join(rho_dir, f"samples_{grid_model.name}.png"),
                             class_names=class_names)

    if config.plots:
        plot_prf_radars(per_class, os.path.join(rho_dir, "radar.png"), class_names=class_names)
        # FID against tau when the sweep computed FID (--sweep-fid), else mean per-class F1 against tau.
        key = "fid" if all("fid" in point for sweep in sweeps.values() for point in sweep) else "mean_f1"
        plot_metric_curve(
            config.taus, {name: [point.get(key, math.nan) for point in sweep] for name, sweep in sweeps.items()},
            os.path.join(rho_dir, "tau_curve.png"), xlabel="tau / default tau", ylabel=key,
            title=f"{config.preset}, rho={format_rho(rho)}",
        )
    return runs


def _sweep_summary(metrics: dict) -> dict:
    """Return the numbers kept for one point of the tau sweep."""
    point = {"mean_f1": metrics["mean_f1"], "tail_f1": metrics["tail_f1"]}
    if "fid" in metrics:
        point["fid"] = metrics["fid"]
    return point
