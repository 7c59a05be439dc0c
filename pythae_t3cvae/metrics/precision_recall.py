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
running top-k per row, so memory is O(chunk_size^2 + N k) and no N x N matrix is built. Each
within-set block serves both of its row ranges, and each real x generated block serves both
precision and recall, so a call costs about two N x N x D matrix products instead of four.

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

# 1024 ran 4-13% faster than 2048 on one CPU core for N = 2,000 to 10,000 and D = 2048 (more
# within-set blocks fall off the diagonal and are shared), and 512 gained at most 6% more.
DEFAULT_CHUNK_SIZE = 1024
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
    # aminmax propagates NaN, so finite extremes mean finite features. Unlike isfinite(features),
    # it allocates no N x D temporary.
    if features.numel() > 0 and not bool(torch.isfinite(torch.stack(torch.aminmax(features))).all()):
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


class _BlockBuffer:
    """One flat buffer that every block of a loop reuses, so memory stays at one block whatever N is.

    With a fresh tensor per block, glibc's heap kept freed blocks and the peak grew with N: 91 MiB
    at N = 10,000 and 210 MiB at N = 20,000 (D = 2048, float32, chunk_size 2048). With the buffers
    reused it is 23 MiB at both sizes for chunk_size 1024 (benchmarks/bench_precision_recall.py).
    """

    def __init__(self, max_rows: int, max_columns: int, dtype: torch.dtype, device: torch.device):
        self.storage = torch.empty(max_rows * max_columns, dtype=dtype, device=device)

    def take(self, rows: int, columns: int) -> torch.Tensor:
        return self.storage[: rows * columns].view(rows, columns)


def _squared_norms(features: torch.Tensor, chunk_size: int) -> torch.Tensor:
    # Row blocks and one reused buffer keep the product at chunk_size x D instead of N x D.
    buffer = _BlockBuffer(min(chunk_size, features.shape[0]), features.shape[1], features.dtype, features.device)
    norms = [
        torch.mul(block, block, out=buffer.take(*block.shape)).sum(dim=1) for block in features.split(chunk_size)
    ]
    return torch.cat(norms)


def _squared_distances(
    rows: torch.Tensor,
    columns: torch.Tensor,
    row_norms: torch.Tensor,
    column_norms: torch.Tensor,
    buffer: _BlockBuffer,
) -> torch.Tensor:
    # addmm writes row_norms - 2 a.b in the same pass as the matrix product, and the column norms
    # and the clamp then work in place, so a block costs one product and two passes over it.
    squared = buffer.take(rows.shape[0], columns.shape[0])
    torch.addmm(row_norms[:, None], rows, columns.T, alpha=-2.0, out=squared)
    squared += column_norms[None, :]
    return squared.clamp_min_(0.0)


def _blocks(n: int, chunk_size: int) -> list:
    return [(start, min(start + chunk_size, n)) for start in range(0, n, chunk_size)]


def _merge_nearest(nearest: torch.Tensor, candidates: torch.Tensor, k: int) -> torch.Tensor:
    """Return the k smallest values per row among ``nearest`` (R, k) and ``candidates`` (R, C), unsorted."""
    if candidates.shape[1] > k:
        candidates = torch.topk(candidates, k, dim=1, largest=False, sorted=False).values
    merged = torch.cat([nearest, candidates], dim=1)
    return torch.topk(merged, k, dim=1, largest=False, sorted=False).values


@torch.no_grad()
def knn_squared_radii(features: torch.Tensor, k: int, chunk_size: int = DEFAULT_CHUNK_SIZE) -> torch.Tensor:
    """Return the squared distance from each row to its k-th nearest other row, shape (N,).

    Distances are symmetric, so each pair of blocks is computed once and updates the neighbours
    of both its row block and, transposed, its column block: half the products of a full pass.
    """
    n = features.shape[0]
    norms = _squared_norms(features, chunk_size)
    nearest = torch.full((n, k), float("inf"), dtype=features.dtype, device=features.device)
    blocks = _blocks(n, chunk_size)
    block_size = min(chunk_size, n)
    buffer = _BlockBuffer(block_size, block_size, features.dtype, features.device)
    transposed_buffer = _BlockBuffer(block_size, block_size, features.dtype, features.device)

    for index, (row_start, row_stop) in enumerate(blocks):
        for column_start, column_stop in blocks[index:]:
            squared = _squared_distances(
                features[row_start:row_stop], features[column_start:column_stop],
                norms[row_start:row_stop], norms[column_start:column_stop], buffer,
            )
            if column_start == row_start:
                # Exclude each point from its own neighbours by index, so duplicates still count.
                squared.fill_diagonal_(float("inf"))
            nearest[row_start:row_stop] = _merge_nearest(nearest[row_start:row_stop], squared, k)
            if column_start != row_start:
                # Copying to a contiguous block and taking a row-wise top-k took 43 ms on a 2048 x 2048
                # float32 block, against 62 ms for a top-k over the transposed view.
                transposed = transposed_buffer.take(*reversed(squared.shape)).copy_(squared.T)
                nearest[column_start:column_stop] = _merge_nearest(nearest[column_start:column_stop], transposed, k)

    return nearest.amax(dim=1)


def knn_radii(features: ArrayLike, k: int = 3, chunk_size: int = DEFAULT_CHUNK_SIZE) -> torch.Tensor:
    """Return the Euclidean distance from each feature to its k-th nearest other feature, shape (N,)."""
    features = as_feature_tensor(features, "features")
    _validate_k(k, features.shape[0], "features")
    _validate_chunk_size(chunk_size)
    return knn_squared_radii(features, k, chunk_size).sqrt()


def _inside_function(boundary: Boundary):
    if boundary == "closed":
        return torch.le
    if boundary == "open":
        return torch.lt
    raise ValueError(f"boundary must be 'closed' (<=) or 'open' (<), got {boundary!r}")


@torch.no_grad()
def fraction_inside_balls(
    queries: torch.Tensor,
    centers: torch.Tensor,
    squared_radii: torch.Tensor,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    boundary: Boundary = "closed",
) -> float:
    """Return the fraction of ``queries`` inside at least one ball (center, radius), blockwise."""
    inside = _inside_function(boundary)
    query_norms, center_norms = _squared_norms(queries, chunk_size), _squared_norms(centers, chunk_size)

    max_rows, max_columns = min(chunk_size, queries.shape[0]), min(chunk_size, centers.shape[0])
    buffer = _BlockBuffer(max_rows, max_columns, queries.dtype, queries.device)
    inside_buffer = _BlockBuffer(max_rows, max_columns, torch.bool, queries.device)

    covered = torch.zeros(queries.shape[0], dtype=torch.bool, device=queries.device)
    for row_start, row_stop in _blocks(queries.shape[0], chunk_size):
        for column_start, column_stop in _blocks(centers.shape[0], chunk_size):
            squared = _squared_distances(
                queries[row_start:row_stop], centers[column_start:column_stop],
                query_norms[row_start:row_stop], center_norms[column_start:column_stop], buffer,
            )
            column_radii = squared_radii[column_start:column_stop]
            is_inside = inside(squared, column_radii[None, :], out=inside_buffer.take(*squared.shape))
            covered[row_start:row_stop] |= is_inside.any(dim=1)
    return covered.double().mean().item()


@torch.no_grad()
def fractions_inside_balls_both_ways(
    real: torch.Tensor,
    generated: torch.Tensor,
    real_squared_radii: torch.Tensor,
    generated_squared_radii: torch.Tensor,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    boundary: Boundary = "closed",
) -> tuple:
    """Return (precision, recall) from one pass over the real x generated distance blocks.

    Precision is the fraction of ``generated`` inside a real ball and recall the fraction of
    ``real`` inside a generated ball. Both read the same block, which is computed once, so this
    costs one matrix product per block pair where two calls of ``fraction_inside_balls`` cost two.
    """
    inside = _inside_function(boundary)
    real_norms, generated_norms = _squared_norms(real, chunk_size), _squared_norms(generated, chunk_size)

    max_rows, max_columns = min(chunk_size, real.shape[0]), min(chunk_size, generated.shape[0])
    buffer = _BlockBuffer(max_rows, max_columns, real.dtype, real.device)
    inside_buffer = _BlockBuffer(max_rows, max_columns, torch.bool, real.device)

    real_covered = torch.zeros(real.shape[0], dtype=torch.bool, device=real.device)
    generated_covered = torch.zeros(generated.shape[0], dtype=torch.bool, device=real.device)
    for real_start, real_stop in _blocks(real.shape[0], chunk_size):
        for generated_start, generated_stop in _blocks(generated.shape[0], chunk_size):
            squared = _squared_distances(
                real[real_start:real_stop], generated[generated_start:generated_stop],
                real_norms[real_start:real_stop], generated_norms[generated_start:generated_stop], buffer,
            )  # (real block, generated block)
            real_radii = real_squared_radii[real_start:real_stop]
            generated_radii = generated_squared_radii[generated_start:generated_stop]
            is_inside = inside_buffer.take(*squared.shape)

            inside(squared, real_radii[:, None], out=is_inside)
            generated_covered[generated_start:generated_stop] |= is_inside.any(dim=0)
            inside(squared, generated_radii[None, :], out=is_inside)
            real_covered[real_start:real_stop] |= is_inside.any(dim=1)

    return generated_covered.double().mean().item(), real_covered.double().mean().item()


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
    precision, recall = fractions_inside_balls_both_ways(
        real_features, generated_features, real_squared_radii, generated_squared_radii, chunk_size, boundary
    )
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1_score(precision, recall),
        "k": k,
        "n_real": real_features.shape[0],
        "n_generated": generated_features.shape[0],
    }
