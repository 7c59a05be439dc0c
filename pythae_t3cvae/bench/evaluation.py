"""Evaluation of one trained grid model: generation, per-class scores, coverage, FID, tau sweep.

Per-class precision/recall/F1 compare generated class-y samples with the real class-y test images in
the feature space of a classifier trained on balanced training data. Conditional models generate
each class on request; samples of unconditional models are assigned the class the classifier
predicts, which is also what class coverage summarises.
"""

import logging
import math
import warnings
from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from torch.utils.data import DataLoader

from ..metrics import class_coverage, classifier_features, per_class_prf, predict_labels
from ..samplers import ClassMixtureSampler, ClassMixtureSamplerConfig, T3Sampler, T3SamplerConfig
from ..samplers.base import default_tau, model_device

logger = logging.getLogger(__name__)

#: fraction of the classes, rarest first, whose mean F1 is the tail F1 (at least one class)
TAIL_FRACTION = 0.3


@dataclass
class EvalContext:
    """Reference data and networks that every model of one experiment is compared against."""

    test_images: torch.Tensor  # (N, C, H, W) in [0, 1]
    test_labels: torch.Tensor  # (N,)
    test_features: torch.Tensor  # (N, D) classifier features
    classifier: torch.nn.Module
    n_classes: int
    tail_classes: list
    fid: Optional[object] = None  # FIDMetric holding the real statistics, or None
    fid_samples: int = 0
    k: int = 3


def stack_dataset(dataset, batch_size: int = 512):
    """Return all images and labels of a dataset of ``DatasetOutput`` items as two tensors."""
    images, labels = [], []
    for batch in DataLoader(dataset, batch_size=batch_size, collate_fn=_collate):
        images.append(batch[0])
        labels.append(batch[1])
    return torch.cat(images), torch.cat(labels).long()


def _collate(items):
    return torch.stack([item["data"] for item in items]), torch.stack(
        [torch.as_tensor(item["labels"]) for item in items]
    )


def tail_classes(class_order: Sequence[int], fraction: float = TAIL_FRACTION) -> list:
    """Return the rarest ceil(fraction * K) classes, given the head-first class order of the long tail."""
    n_tail = max(1, math.ceil(fraction * len(class_order)))
    return sorted(int(c) for c in class_order[-n_tail:])


def generate(model, sampling: str, labels: Optional[torch.Tensor], num_samples: int, seed: int,
             tau_factor: float = 1.0, batch_size: int = 500):
    """Generate images (and their classes) from a grid model with tau = tau_factor * default tau.

    ``labels`` (conditional models only) fixes the class of every sample.
    """
    if sampling == "mixture":
        sampler = ClassMixtureSampler(model, ClassMixtureSamplerConfig(tau=tau_factor * default_tau(model)))
        return sampler.sample(len(labels), batch_size=batch_size, labels=labels, seed=seed, return_labels=True)
    elif sampling == "t3":
        sampler = T3Sampler(model, T3SamplerConfig(tau=tau_factor * default_tau(model)))
        return sampler.sample(num_samples, batch_size=batch_size, seed=seed), None
    elif sampling == "gaussian":
        # pythae's NormalSampler moves the model to CUDA and takes no seed, so draw here.
        model.eval()
        device = model_device(model)
        generator = torch.Generator(device=device).manual_seed(seed)
        z = tau_factor * torch.randn(num_samples, model.latent_dim, generator=generator, device=device)
        with torch.no_grad():
            images = torch.cat([model.decoder(part)["reconstruction"] for part in z.split(batch_size)])
        return images, None
    else:
        raise ValueError(f"sampling must be 'mixture', 't3' or 'gaussian', got {sampling!r}")


def _score_missing_classes(scores: dict, k: int) -> None:
    """Give recall 0 and F1 0 to classes with fewer than k + 1 generated samples.

    A model that (almost) never generates a class covers none of its real images, so its recall
    there is 0; leaving NaN would drop the class from the means and reward the bias towards
    frequent classes that this comparison measures. Precision stays NaN (undefined).
    """
    for label, n_generated in enumerate(scores["n_generated"]):
        if n_generated < k + 1 and scores["n_real"][label] >= k + 1:
            scores["recall"][label] = 0.0
            scores["f1"][label] = 0.0
    for name in ("precision", "recall", "f1"):
        values = [value for value in scores[name] if not math.isnan(value)]
        scores[f"mean_{name}"] = sum(values) / len(values) if values else math.nan


def evaluate_model(model, sampling: str, context: EvalContext, samples_per_class: int, seed: int,
                   tau_factor: float = 1.0, with_fid: bool = True) -> dict:
    """Return per-class precision/recall/F1, tail F1, class coverage and (optionally) FID of a model."""
    n_classes = context.n_classes
    device = model_device(model)

    # 1. Class-balanced samples: each class requested equally, or whatever an unconditional model gives.
    requested = torch.arange(n_classes, device=device).repeat_interleave(samples_per_class)
    images, labels = generate(model, sampling, requested, len(requested), seed, tau_factor)

    # 2. Classifier view of the samples.
    predicted = predict_labels(context.classifier, images)
    features = classifier_features(context.classifier, images)
    assigned = labels if labels is not None else predicted

    with warnings.catch_warnings():
        # Classes an unconditional model never generates are handled just below.
        warnings.filterwarnings("ignore", message=r"class \d+ has \d+ real and \d+ generated samples")
        scores = per_class_prf(
            context.test_features, context.test_labels, features, assigned.to(features.device),
            k=context.k, n_classes=n_classes,
        )
    _score_missing_classes(scores, context.k)
    tail_f1 = [scores["f1"][c] for c in context.tail_classes if not math.isnan(scores["f1"][c])]
    result = {
        "precision": scores["precision"],
        "recall": scores["recall"],
        "f1": scores["f1"],
        "mean_precision": scores["mean_precision"],
        "mean_recall": scores["mean_recall"],
        "mean_f1": scores["mean_f1"],
        "tail_f1": sum(tail_f1) / len(tail_f1) if tail_f1 else math.nan,
        "coverage": class_coverage(predicted.cpu(), n_classes),
        # Class-balanced generation puts len(tail) / K of the samples in the tail classes.
        "tail_share": float(torch.isin(predicted.cpu(), torch.tensor(context.tail_classes)).double().mean()),
        "tail_share_target": len(context.tail_classes) / n_classes,
        "n_generated": int(images.shape[0]),
    }
    if labels is not None:
        result["conditional_accuracy"] = float((predicted.cpu() == labels.cpu()).double().mean())

    # 3. FID against the balanced test set, on its own class-balanced draw.
    if with_fid and context.fid is not None and context.fid_samples > 0:
        fid_labels = torch.arange(context.fid_samples, device=device) % n_classes
        fid_images, _ = generate(model, sampling, fid_labels, context.fid_samples, seed + 1, tau_factor)
        context.fid.reset(real=False, generated=True)
        context.fid.update(fid_images, real=False)
        fid = context.fid.compute()
        result.update(fid=fid.fid, fid_n_real=fid.n_real, fid_n_generated=fid.n_generated)

    return result, images, assigned
