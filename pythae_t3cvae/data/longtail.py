"""Long-tailed subsets of class-labelled data, balanced test subsets and their manifests.

Notation: K classes are indexed k = 0 .. K-1 in a class order, head class first. With the imbalance
ratio ``rho`` = n_max / n_min >= 1, class k keeps

    n_k = floor(n_max * rho ** (-k / (K - 1)))

images, so the head class keeps ``n_max`` and the tail class keeps floor(n_max / rho). ``rho = 1`` keeps
every class balanced at ``n_max``.

NOTE: ``rho`` is the ratio n_max / n_min. It is NOT the ``imb_factor`` of the LDAM-DRW code, which is its
inverse (imb_factor = 0.01 there means rho = 100 here).

Which images are kept depends only on ``data_seed``, which is kept apart from the training seed. Each class
gets its own seeded permutation of its source indices, and a subset keeps a prefix of that permutation. For
one ``data_seed`` the subset kept at a larger ``rho`` is therefore contained in the subset kept at a smaller
``rho``, and the balanced crop (``rho = 1``) equals ``balanced_indices`` on the same labels.
"""

import hashlib
import json
import logging
import math
import os
from fractions import Fraction
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

logger = logging.getLogger(__name__)

MANIFEST_VERSION = 1

# Seed streams: a class permutation drawn for a subset and one drawn for a train/test split of the same
# labels come from different streams, so the two draws are independent.
_SUBSET_STREAM = 0
_SPLIT_STREAM = 1


def _check_rho(rho: float) -> float:
    if isinstance(rho, bool) or not isinstance(rho, (int, float, np.integer, np.floating)):
        raise ValueError(f"rho must be a real number >= 1 (n_max / n_min), got {rho!r}")
    rho = float(rho)
    if not math.isfinite(rho) or rho < 1.0:
        raise ValueError(
            f"rho must be finite and >= 1 (rho = n_max / n_min, 1 = balanced), got rho={rho}. "
            "If you have LDAM's imb_factor (for example 0.01), pass rho = 1 / imb_factor (100)."
        )
    return rho


def _check_seed(data_seed: int) -> int:
    if isinstance(data_seed, bool) or not isinstance(data_seed, (int, np.integer)) or data_seed < 0:
        raise ValueError(f"data_seed must be an integer >= 0, got {data_seed!r}")
    return int(data_seed)


def _check_labels(labels) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {labels.shape}")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
    return labels.astype(np.int64, copy=False)


def _keeps_at_least(count: int, n_max: int, n_classes: int, k: int, rho: Fraction) -> bool:
    # count <= n_max * rho^(-k/(K-1))  <=>  count^(K-1) * rho^k <= n_max^(K-1), exact in integers.
    return count ** (n_classes - 1) * rho**k <= n_max ** (n_classes - 1)


def longtail_counts(n_max: int, n_classes: int, rho: float) -> List[int]:
    """Compute n_k = floor(n_max * rho^(-k/(K-1))) for k = 0 .. K-1, head class first.

    The floor is exact for the binary value of ``rho``: a float estimate is corrected with integer
    arithmetic, so for example n_max=64, K=7, rho=64 gives n_5 = 2 where plain floating point gives 1.
    A single class keeps ``n_max``.

    Raises:
        ValueError: if ``n_max`` or ``n_classes`` is not a positive integer, if ``rho`` is not finite or
            is below 1, or if ``rho`` exceeds ``n_max`` so that the tail class would keep zero images.
    """
    if isinstance(n_max, bool) or not isinstance(n_max, (int, np.integer)) or n_max < 1:
        raise ValueError(f"n_max must be an integer >= 1, got {n_max!r}")
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
        raise ValueError(f"n_classes must be an integer >= 1, got {n_classes!r}")
    rho = _check_rho(rho)
    n_max = int(n_max)
    n_classes = int(n_classes)

    if n_classes == 1:
        return [n_max]
    if rho > n_max:
        raise ValueError(
            f"rho={rho} is too large for n_max={n_max}: the tail class would keep "
            f"floor({n_max} / {rho}) = 0 images. Use rho <= {n_max} or a larger n_max."
        )

    exact_rho = Fraction(rho)
    counts = []
    for k in range(n_classes):
        count = math.floor(n_max * rho ** (-k / (n_classes - 1)))
        while count > 0 and not _keeps_at_least(count, n_max, n_classes, k, exact_rho):
            count -= 1
        while _keeps_at_least(count + 1, n_max, n_classes, k, exact_rho):
            count += 1
        counts.append(count)
    return counts


def _class_permutation(indices: np.ndarray, data_seed: int, label: int, stream: int) -> np.ndarray:
    # One generator per (seed, stream, class): a class's draw does not depend on the other classes.
    rng = np.random.default_rng([data_seed, stream, int(label)])
    return indices[rng.permutation(indices.size)]


def _resolve_class_order(labels: np.ndarray, class_order: Optional[Sequence[int]]) -> List[int]:
    present = sorted(int(c) for c in np.unique(labels))
    if class_order is None:
        return present

    order = [int(c) for c in class_order]
    if sorted(order) != present:
        raise ValueError(
            f"class_order must list every class label present exactly once: expected a permutation of "
            f"{present}, got {list(class_order)}"
        )
    return order


def longtail_indices(
    labels,
    rho: float,
    data_seed: int,
    class_order: Optional[Sequence[int]] = None,
    n_max: Optional[int] = None,
) -> Tuple[np.ndarray, Dict[int, int]]:
    """Select a long-tailed subset of a labelled set.

    Args:
        labels: one integer class label per image.
        rho: imbalance ratio n_max / n_min, >= 1 (not LDAM's inverse ``imb_factor``).
        data_seed: seed of the selection, separate from the training seed.
        class_order: class labels from head to tail; default: ascending label order.
        n_max: images kept of the head class. The default is the smallest class count, which crops
            an unbalanced source to a balanced one before the tail is cut.

    Returns:
        The kept positions into ``labels``, sorted ascending (int64), and a dict that maps each class
        label to its kept count, in ``class_order`` (head first).

    Raises:
        ValueError: on invalid ``rho``, ``data_seed`` or ``class_order``, on an ``n_max`` larger than
            the smallest class, or on a ``rho`` so large that a class would keep zero images.
    """
    labels = _check_labels(labels)
    rho = _check_rho(rho)
    data_seed = _check_seed(data_seed)
    if labels.size == 0:
        raise ValueError("labels is empty: there is nothing to select from")
    order = _resolve_class_order(labels, class_order)

    class_sizes = {c: int(np.count_nonzero(labels == c)) for c in order}
    smallest = min(class_sizes.values())
    if n_max is None:
        n_max = smallest
    elif isinstance(n_max, bool) or not isinstance(n_max, (int, np.integer)) or not 1 <= n_max <= smallest:
        raise ValueError(
            f"n_max must be an integer between 1 and the smallest class count {smallest}, got {n_max!r}"
        )

    counts = dict(zip(order, longtail_counts(int(n_max), len(order), rho)))
    kept_parts = []
    for label, count in counts.items():
        members = np.flatnonzero(labels == label)
        kept_parts.append(_class_permutation(members, data_seed, label, _SUBSET_STREAM)[:count])
    indices = np.sort(np.concatenate(kept_parts)).astype(np.int64)
    return indices, counts


def balanced_indices(labels, data_seed: int, per_class: Optional[int] = None) -> np.ndarray:
    """Select ``per_class`` images of every class (default: the smallest class count).

    Returns the kept positions into ``labels``, sorted ascending. The result equals the indices of
    ``longtail_indices(labels, 1, data_seed, n_max=per_class)``.

    Raises:
        ValueError: if ``per_class`` exceeds the smallest class count or is below 1.
    """
    indices, _ = longtail_indices(labels, 1.0, data_seed, n_max=per_class)
    return indices


def split_per_class(labels, n_per_class: int, data_seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Split a labelled set into ``n_per_class`` images of every class and the rest.

    Used to carve a balanced test set out of a source without an official test split. The draw uses
    its own seed stream, so it is independent of the subsets later taken from either part.

    Returns:
        (split_indices, rest_indices): positions into ``labels``, each sorted ascending.

    Raises:
        ValueError: if some class has ``n_per_class`` images or fewer, which would leave it nothing.
    """
    labels = _check_labels(labels)
    data_seed = _check_seed(data_seed)
    present = sorted(int(c) for c in np.unique(labels))
    smallest = min((int(np.count_nonzero(labels == c)) for c in present), default=0)
    if (
        isinstance(n_per_class, bool)
        or not isinstance(n_per_class, (int, np.integer))
        or not (1 <= n_per_class < smallest)
    ):
        raise ValueError(
            f"n_per_class must be an integer between 1 and {smallest - 1} (the smallest class has "
            f"{smallest} images and must keep at least one), got {n_per_class!r}"
        )

    split = []
    for label in present:
        members = np.flatnonzero(labels == label)
        split.append(_class_permutation(members, data_seed, label, _SPLIT_STREAM)[:n_per_class])
    split_indices = np.sort(np.concatenate(split)).astype(np.int64)
    rest_indices = np.setdiff1d(np.arange(labels.size), split_indices).astype(np.int64)
    return split_indices, rest_indices


def indices_sha256(indices) -> str:
    """Hash kept indices as ``sha256`` of the ascending indices stored as little-endian int64 bytes."""
    ordered = np.sort(np.asarray(indices, dtype=np.int64))
    return hashlib.sha256(ordered.astype("<i8").tobytes()).hexdigest()


def _split_summary(indices, labels, class_names: Sequence[str]) -> dict:
    indices = np.asarray(indices, dtype=np.int64)
    labels = _check_labels(labels)
    if labels.size != indices.size:
        raise ValueError(f"got {indices.size} indices but {labels.size} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise ValueError(
            f"labels must lie in 0 .. {len(class_names) - 1} (one per class name), "
            f"got values {labels.min()} .. {labels.max()}"
        )
    counts = np.bincount(labels, minlength=len(class_names))
    return {
        "n_images": int(indices.size),
        "counts": {name: int(count) for name, count in zip(class_names, counts)},
        "indices_sha256": indices_sha256(indices),
    }


def build_manifest(
    *,
    dataset: str,
    rho: float,
    data_seed: int,
    class_names: Sequence[str],
    class_order: Sequence[int],
    train_indices,
    train_labels,
    test_indices=None,
    test_labels=None,
    options: Optional[dict] = None,
) -> dict:
    """Build a JSON-serialisable record of which images a run trains and tests on.

    ``*_indices`` are positions in the source's own order (the order each reader documents) and
    ``*_labels`` are the labels of those kept images, from which the per-class counts are computed.
    ``class_order`` lists class labels from head to tail. ``options`` contains further settings (for example
    the CelebA attribute) and must itself be JSON-serialisable.
    """
    class_names = [str(name) for name in class_names]
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "dataset": dataset,
        "rho": float(rho),
        "data_seed": int(data_seed),
        "class_names": class_names,
        "class_order": [int(c) for c in class_order],
        "train": _split_summary(train_indices, train_labels, class_names),
    }
    if test_indices is not None:
        manifest["test"] = _split_summary(test_indices, test_labels, class_names)
    manifest["options"] = dict(options or {})
    json.dumps(manifest)  # Fails here, not later beside the results, if an option is not serialisable.
    return manifest


def write_manifest(manifest: dict, path) -> str:
    """Write ``manifest`` as indented JSON to ``path`` (parent folders are created); return the path."""
    path = os.fspath(path)
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2)
        handle.write("\n")
    logger.debug("wrote data manifest to %s", path)
    return path
