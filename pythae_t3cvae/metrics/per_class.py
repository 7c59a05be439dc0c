"""Per-class precision, recall and F1 for class-conditional models, and class coverage for
unconditional ones.

Per-class: for each class y, generated samples conditioned on y are compared with real test images
of class y by :func:`~pythae_t3cvae.metrics.precision_recall.precision_recall`, using features of
a classifier trained on balanced data (see :mod:`pythae_t3cvae.metrics.classifier`).

Class coverage: a classifier labels the samples of an unconditional model, and the distribution p
of predicted labels over K classes is summarised by

- entropy H(p) = -sum_y p_y log p_y, in nats (0 log 0 = 0), at most log K;
- normalised entropy H(p) / log K in [0, 1] (1 for the uniform distribution);
- KL from uniform KL(p || U_K) = sum_y p_y log(K p_y) = log K - H(p), in nats;
- fraction of classes covered: classes with at least one predicted sample, divided by K.
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import Optional, Sequence, Union

import numpy as np
import torch

from .precision_recall import DEFAULT_CHUNK_SIZE, Boundary, as_feature_tensor, precision_recall

logger = logging.getLogger(__name__)

ArrayLike = Union[torch.Tensor, np.ndarray, Sequence[int]]


def as_label_tensor(labels: ArrayLike, name: str) -> torch.Tensor:
    """Return ``labels`` as a 1-D int64 tensor of non-negative integers, raising ValueError otherwise.

    Float labels are accepted when they are whole numbers, because pythae's ``BaseDataset``
    stores labels as floats.
    """
    if isinstance(labels, np.ndarray):
        labels = torch.from_numpy(labels)
    elif not isinstance(labels, torch.Tensor):
        labels = torch.as_tensor(list(labels))
    if labels.dim() != 1:
        raise ValueError(f"{name} must be 1-D, got shape {tuple(labels.shape)}")
    if labels.is_floating_point():
        if not bool((labels == labels.round()).all()):
            raise ValueError(f"{name} must contain whole numbers, got non-integer float labels")
        labels = labels.round()
    labels = labels.long()
    if labels.numel() > 0 and int(labels.min()) < 0:
        raise ValueError(f"{name} must be >= 0, got minimum {int(labels.min())}")
    return labels


def _class_list(n_classes: Optional[int], *label_sets: torch.Tensor) -> list[int]:
    if n_classes is None:
        present = torch.cat([labels.cpu() for labels in label_sets]).unique()
        return [int(label) for label in present]
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 1:
        raise ValueError(f"n_classes must be an int >= 1 or None, got {n_classes!r}")
    for labels in label_sets:
        if labels.numel() > 0 and int(labels.max()) >= n_classes:
            raise ValueError(f"labels must be in [0, {n_classes - 1}] for n_classes={n_classes}, got {int(labels.max())}")
    return list(range(n_classes))


def per_class_prf(
    real_features: ArrayLike,
    real_labels: ArrayLike,
    generated_features: ArrayLike,
    generated_labels: ArrayLike,
    k: int = 3,
    n_classes: Optional[int] = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    boundary: Boundary = "closed",
) -> dict:
    """Return precision, recall and F1 per class between generated and real features of that class.

    ``generated_labels`` are the classes the samples were conditioned on. Classes run over
    ``range(n_classes)``, or over the labels present in either set when ``n_classes`` is None.
    A class with fewer than k + 1 real or generated samples gets NaN and a warning.

    Returns:
        dict with ``classes``, ``k`` and, indexed like ``classes``, the lists ``precision``,
        ``recall``, ``f1``, ``n_real`` and ``n_generated``. The keys ``mean_precision``,
        ``mean_recall`` and ``mean_f1`` are means over the classes that have a value (NaN if none has).
    """
    real_features = as_feature_tensor(real_features, "real_features")
    generated_features = as_feature_tensor(generated_features, "generated_features")
    real_labels = as_label_tensor(real_labels, "real_labels").to(real_features.device)
    generated_labels = as_label_tensor(generated_labels, "generated_labels").to(generated_features.device)
    if real_labels.shape[0] != real_features.shape[0]:
        raise ValueError(
            f"real_labels must have one label per row of real_features ({real_features.shape[0]}), "
            f"got {real_labels.shape[0]}"
        )
    if generated_labels.shape[0] != generated_features.shape[0]:
        raise ValueError(
            f"generated_labels must have one label per row of generated_features ({generated_features.shape[0]}), "
            f"got {generated_labels.shape[0]}"
        )
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    classes = _class_list(n_classes, real_labels, generated_labels)

    result = {"classes": classes, "precision": [], "recall": [], "f1": [], "n_real": [], "n_generated": [], "k": k}
    for label in classes:
        real_of_class = real_features[real_labels == label]
        generated_of_class = generated_features[generated_labels == label]
        result["n_real"].append(real_of_class.shape[0])
        result["n_generated"].append(generated_of_class.shape[0])

        if min(real_of_class.shape[0], generated_of_class.shape[0]) < k + 1:
            warnings.warn(
                f"class {label} has {real_of_class.shape[0]} real and {generated_of_class.shape[0]} generated "
                f"samples, fewer than k + 1 = {k + 1}; its precision, recall and F1 are NaN",
                stacklevel=2,
            )
            scores = {"precision": math.nan, "recall": math.nan, "f1": math.nan}
        else:
            scores = precision_recall(real_of_class, generated_of_class, k, chunk_size, boundary)
        for name in ("precision", "recall", "f1"):
            result[name].append(scores[name])

    for name in ("precision", "recall", "f1"):
        values = [value for value in result[name] if not math.isnan(value)]
        result[f"mean_{name}"] = float(np.mean(values)) if values else math.nan
    return result


def class_coverage(predicted_labels: ArrayLike, n_classes: int) -> dict:
    """Summarise the predicted class distribution of samples from an unconditional model.

    Returns:
        dict with ``counts`` and ``distribution`` (lists of length n_classes), ``entropy``,
        ``normalized_entropy``, ``kl_from_uniform`` (nats), ``fraction_covered`` and
        ``n_samples``. With n_classes = 1, ``normalized_entropy`` is 1.
    """
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 1:
        raise ValueError(f"n_classes must be an int >= 1, got {n_classes!r}")
    labels = as_label_tensor(predicted_labels, "predicted_labels").cpu()
    if labels.numel() == 0:
        raise ValueError("predicted_labels is empty; class coverage needs at least one sample")
    if int(labels.max()) >= n_classes:
        raise ValueError(
            f"predicted_labels must be in [0, {n_classes - 1}] for n_classes={n_classes}, got {int(labels.max())}"
        )

    counts = torch.bincount(labels, minlength=n_classes).double()
    distribution = counts / counts.sum()
    nonzero = distribution[distribution > 0]
    entropy = float(-(nonzero * nonzero.log()).sum())
    max_entropy = math.log(n_classes)
    return {
        "counts": [int(count) for count in counts],
        "distribution": distribution.tolist(),
        "entropy": entropy,
        "normalized_entropy": entropy / max_entropy if n_classes > 1 else 1.0,
        "kl_from_uniform": max(max_entropy - entropy, 0.0),
        "fraction_covered": float((counts > 0).double().mean()),
        "n_samples": int(labels.numel()),
    }
