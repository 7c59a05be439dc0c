"""Generative precision, recall and F1 with k-nearest-neighbour balls (Kynkaanniemi et al. 2019,
arXiv:1904.06991).

Notation: real features x_i, generated features g_j, k (default 3).

- radius r_i of a real feature: Euclidean distance from x_i to its k-th nearest neighbour among the
  other real features (x_i itself excluded by index, so duplicates of x_i count as neighbours);
  generated radii are defined the same way within the generated set;
- precision = fraction of g_j with ||g_j - x_i|| <= r_i for at least one i;
- recall = fraction of x_i with ||x_i - g_j|| <= r_j for at least one generated radius r_j;
- F1 = 2 P R / (P + R), and 0 when P = R = 0.

Boundary. The definition above counts a sample "inside" a ball. This module uses the closed ball
by default (``boundary="closed"``, distance <= radius). The ``prdc`` package (version 0.2) uses
a strict ``distance < radius``, which ``boundary="open"`` reproduces. The two differ only for points
exactly on a ball's surface, which happens with discrete features (lattices, duplicated images).

Computation. Everything runs in torch on the features' device. Squared distances use the expanded
form ||a||^2 + ||b||^2 - 2 a.b, clamped at 0, in the features' dtype (float32 or float64, and other
dtypes are converted to float32). Balls are compared on squared distances, so a distance equal to
a radius stays equal. Pairs are processed in blocks of ``chunk_size`` x ``chunk_size`` with a
running top-k per row, so memory is O(chunk_size^2 + N k) and no N x N matrix is built.

NOTE: in float32 the expanded form has an absolute rounding error of the order of 1e-7 times the
squared feature norms (an estimate from float32 precision), so near-ties between distances and
radii can flip compared with float64. Pass float64 features where that matters.
"""

from __future__ import annotations

import logging
from typing import Literal, Union

import numpy as np
import torch

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 2048
Boundary = Literal["closed", "open"]

ArrayLike = Union[torch.Tensor, np.ndarray]


def as_feature_tensor(features: ArrayLike, name: str) -> torch.Tensor:
    """Return ``features`` as a finite 2-D float32 or float64 tensor, raising ValueError otherwise."""
    if isinstance(features, np.ndarray):
        features = torch.from_numpy(features)
    if not isinstance(features, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor or numpy array, got {type(features).__name__}")
    if features.dim() != 2:
        raise ValueError(f"{name} must have shape (N, D), got shape {tuple(features.shape)}")
    if features.dtype not in (torch.float32, torch.float64):
        features = features.float()
    if not bool(torch.isfinite(features).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return features.detach()


def _validate_k(k: int, n: int, name: str) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    if n < k + 1:
        raise ValueError(f"{name} needs at least k + 1 = {k + 1} samples for k={k} (self excluded), got {n}")


def _validate_chunk_size(chunk_size: int) -> None:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be an int >= 1, got {chunk_size!r}")


def _squared_distances(rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    row_norms = (rows * rows).sum(dim=1)
    column_norms = (columns * columns).sum(dim=1)
    squared = row_norms[:, None] + column_norms[None, :] - 2.0 * (rows @ columns.T)
    return squared.clamp_min_(0.0)


def knn_squared_radii(features: torch.Tensor, k: int, chunk_size: int = DEFAULT_CHUNK_SIZE) -> torch.Tensor:
    """Return the squared distance from each row to its k-th nearest other row, shape (N,)."""
    n = features.shape[0]
    radii = torch.empty(n, dtype=features.dtype, device=features.device)
    for row_start in range(0, n, chunk_size):
        rows = features[row_start : row_start + chunk_size]
        row_index = torch.arange(row_start, row_start + rows.shape[0], device=features.device)
        nearest = torch.full((rows.shape[0], k), float("inf"), dtype=features.dtype, device=features.device)

        for column_start in range(0, n, chunk_size):
            columns = features[column_start : column_start + chunk_size]
            column_index = torch.arange(column_start, column_start + columns.shape[0], device=features.device)
            squared = _squared_distances(rows, columns)
            # Exclude each point from its own neighbours by index.
            squared[row_index[:, None] == column_index[None, :]] = float("inf")
            candidates = torch.cat([nearest, squared], dim=1)
            nearest = torch.topk(candidates, k, dim=1, largest=False, sorted=True).values

        radii[row_start : row_start + rows.shape[0]] = nearest[:, k - 1]
    return radii


def knn_radii(features: ArrayLike, k: int = 3, chunk_size: int = DEFAULT_CHUNK_SIZE) -> torch.Tensor:
    """Return the Euclidean distance from each feature to its k-th nearest other feature, shape (N,)."""
    features = as_feature_tensor(features, "features")
    _validate_k(k, features.shape[0], "features")
    _validate_chunk_size(chunk_size)
    return knn_squared_radii(features, k, chunk_size).sqrt()


def fraction_inside_balls(
    queries: torch.Tensor,
    centers: torch.Tensor,
    squared_radii: torch.Tensor,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    boundary: Boundary = "closed",
) -> float:
    """Return the fraction of ``queries`` inside at least one ball (center, radius), blockwise."""
    if boundary == "closed":
        inside = torch.le
    elif boundary == "open":
        inside = torch.lt
    else:
        raise ValueError(f"boundary must be 'closed' (<=) or 'open' (<), got {boundary!r}")

    covered = torch.zeros(queries.shape[0], dtype=torch.bool, device=queries.device)
    for row_start in range(0, queries.shape[0], chunk_size):
        rows = queries[row_start : row_start + chunk_size]
        row_covered = covered[row_start : row_start + rows.shape[0]]
        for column_start in range(0, centers.shape[0], chunk_size):
            columns = centers[column_start : column_start + chunk_size]
            column_radii = squared_radii[column_start : column_start + columns.shape[0]]
            squared = _squared_distances(rows, columns)
            row_covered |= inside(squared, column_radii[None, :]).any(dim=1)
    return covered.double().mean().item()


def f1_score(precision: float, recall: float) -> float:
    """Return 2 P R / (P + R), or 0 when both are 0."""
    if precision + recall == 0:
        return 0.0
    return 2.0 * precision * recall / (precision + recall)


def precision_recall(
    real_features: ArrayLike,
    generated_features: ArrayLike,
    k: int = 3,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    boundary: Boundary = "closed",
) -> dict:
    """Return generative precision, recall and F1 of generated against real features.

    Both inputs are (N, D) feature arrays with the same D. Generated features are moved to the
    real features' device and dtype. Each set needs at least k + 1 samples.

    Returns:
        dict with ``precision``, ``recall``, ``f1`` (floats in [0, 1]), ``k``, ``n_real`` and
        ``n_generated``.
    """
    real_features = as_feature_tensor(real_features, "real_features")
    generated_features = as_feature_tensor(generated_features, "generated_features")
    if real_features.shape[1] != generated_features.shape[1]:
        raise ValueError(
            "real_features and generated_features must have the same feature dimension, got "
            f"{real_features.shape[1]} and {generated_features.shape[1]}"
        )
    _validate_k(k, real_features.shape[0], "real_features")
    _validate_k(k, generated_features.shape[0], "generated_features")
    _validate_chunk_size(chunk_size)
    if boundary not in ("closed", "open"):
        raise ValueError(f"boundary must be 'closed' (<=) or 'open' (<), got {boundary!r}")
    generated_features = generated_features.to(real_features.device, real_features.dtype)

    real_squared_radii = knn_squared_radii(real_features, k, chunk_size)
    generated_squared_radii = knn_squared_radii(generated_features, k, chunk_size)
    precision = fraction_inside_balls(generated_features, real_features, real_squared_radii, chunk_size, boundary)
    recall = fraction_inside_balls(real_features, generated_features, generated_squared_radii, chunk_size, boundary)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1_score(precision, recall),
        "k": k,
        "n_real": real_features.shape[0],
        "n_generated": generated_features.shape[0],
    }
