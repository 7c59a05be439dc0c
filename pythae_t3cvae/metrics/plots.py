"""PNG plots of samples and metrics: a per-class sample grid, per-class radar charts and metric curves.

Figures are built as ``matplotlib.figure.Figure`` objects and saved through the Agg canvas, so
the functions never touch pyplot's global state or backend and never open a window. Saving uses
no ``bbox_inches="tight"``, so a PNG is exactly figsize * dpi pixels (rounded down).
Each function returns the path it wrote.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

PathLike = Union[str, Path]
RADAR_METRICS = ("recall", "precision", "f1")


def _save(figure: Figure, path: PathLike) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"path must end in .png, got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    figure.savefig(path, format="png")
    logger.info("Wrote %s", path)
    return path


def _validate_figure_size(figsize, dpi) -> None:
    if len(figsize) != 2 or min(figsize) <= 0:
        raise ValueError(f"figsize must be (width, height) in inches, both > 0, got {figsize!r}")
    if dpi <= 0:
        raise ValueError(f"dpi must be > 0, got {dpi!r}")


def plot_sample_grid(
    images: torch.Tensor,
    labels: Union[torch.Tensor, Sequence[int]],
    path: PathLike,
    class_names: Optional[Sequence[str]] = None,
    n_per_class: int = 8,
    figsize: Optional[tuple[float, float]] = None,
    dpi: int = 100,
) -> Path:
    """Plot up to ``n_per_class`` images per class, one row per class in label order.

    ``images`` is (N, C, H, W) float in [0, 1] (clamped) with C in {1, 3}. Rows run over the
    sorted labels present in ``labels``, and ``class_names[label]`` titles a row when given.
    ``figsize`` defaults to (0.8 n_per_class + 1, 0.8 n_rows + 0.4) inches.
    """
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be a tensor (N, C, H, W) with C in {{1, 3}}, got {getattr(images, 'shape', type(images))}")
    labels = torch.as_tensor(labels).long().cpu()
    if labels.shape != (images.shape[0],):
        raise ValueError(f"labels must have shape ({images.shape[0]},), got {tuple(labels.shape)}")
    if isinstance(n_per_class, bool) or not isinstance(n_per_class, int) or n_per_class < 1:
        raise ValueError(f"n_per_class must be an int >= 1, got {n_per_class!r}")
    classes = [int(label) for label in labels.unique()]
    if not classes:
        raise ValueError("images is empty; nothing to plot")
    if class_names is not None and len(class_names) <= max(classes):
        raise ValueError(f"class_names must name labels up to {max(classes)}, got {len(class_names)} names")
    if figsize is None:
        figsize = (0.8 * n_per_class + 1.0, 0.8 * len(classes) + 0.4)
    _validate_figure_size(figsize, dpi)

    pixels = images.detach().cpu().float().clamp(0, 1).permute(0, 2, 3, 1).numpy()
    figure = Figure(figsize=figsize, dpi=dpi)
    axes = figure.subplots(len(classes), n_per_class, squeeze=False)
    for row, label in enumerate(classes):
        indices = torch.nonzero(labels == label).flatten()[:n_per_class].tolist()
        for column in range(n_per_class):
            axis = axes[row, column]
            axis.set_xticks([])
            axis.set_yticks([])
            for spine in axis.spines.values():
                spine.set_visible(False)
            if column < len(indices):
                image = pixels[indices[column]]
                if image.shape[2] == 1:
                    axis.imshow(image[:, :, 0], cmap="gray", vmin=0, vmax=1)
                else:
                    axis.imshow(image)
        axes[row, 0].set_ylabel(class_names[label] if class_names is not None else str(label), rotation=0, ha="right", va="center")
    figure.subplots_adjust(left=0.8 / figsize[0], right=0.99, top=0.99, bottom=0.01, wspace=0.05, hspace=0.05)
    return _save(figure, path)


def _draw_radar(axis, values_by_model: Mapping[str, Sequence[float]], class_names: Sequence[str], title: str) -> None:
    n_classes = len(class_names)
    angles = np.linspace(0.0, 2.0 * math.pi, n_classes, endpoint=False)
    closed_angles = np.append(angles, angles[0])
    for model_name, values in values_by_model.items():
        values = np.asarray(values, dtype=float)
        closed_values = np.append(values, values[0])
        axis.plot(closed_angles, closed_values, linewidth=1.5, label=model_name)
        axis.fill(closed_angles, closed_values, alpha=0.1)
    axis.set_xticks(angles)
    axis.set_xticklabels(class_names, fontsize=8)
    axis.set_ylim(0.0, 1.0)
    axis.set_title(title)


def plot_radar(
    values_by_model: Mapping[str, Sequence[float]],
    path: PathLike,
    class_names: Optional[Sequence[str]] = None,
    title: str = "",
    figsize: tuple[float, float] = (5.0, 5.0),
    dpi: int = 100,
) -> Path:
    """Plot one radar chart of a per-class metric in [0, 1], one polygon per model.

    ``values_by_model`` maps a model name to one value per class, all of equal length (at least 3).
    NaN values leave a gap in that model's polygon.
    """
    class_names = _validate_radar_values(values_by_model, class_names)
    _validate_figure_size(figsize, dpi)
    figure = Figure(figsize=figsize, dpi=dpi)
    axis = figure.add_subplot(projection="polar")
    _draw_radar(axis, values_by_model, class_names, title)
    axis.legend(loc="upper right", bbox_to_anchor=(1.15, 1.12), fontsize=8)
    return _save(figure, path)


def _validate_radar_values(values_by_model: Mapping[str, Sequence[float]], class_names: Optional[Sequence[str]]) -> list[str]:
    if not isinstance(values_by_model, Mapping) or not values_by_model:
        raise ValueError("values_by_model must be a non-empty dict of model name -> per-class values")
    lengths = {name: len(values) for name, values in values_by_model.items()}
    n_classes = next(iter(lengths.values()))
    if len(set(lengths.values())) != 1:
        raise ValueError(f"every model needs the same number of per-class values, got {lengths}")
    if n_classes < 3:
        raise ValueError(f"a radar chart needs at least 3 classes, got {n_classes}; use plot_metric_curve instead")
    if class_names is None:
        return [str(label) for label in range(n_classes)]
    if len(class_names) != n_classes:
        raise ValueError(f"class_names must have {n_classes} entries, got {len(class_names)}")
    return list(class_names)


def plot_prf_radars(
    results_by_model: Mapping[str, Mapping[str, Sequence[float]]],
    path: PathLike,
    class_names: Optional[Sequence[str]] = None,
    metrics: Sequence[str] = RADAR_METRICS,
    figsize: Optional[tuple[float, float]] = None,
    dpi: int = 100,
) -> Path:
    """Plot one radar chart per metric side by side, one polygon per model.

    ``results_by_model`` maps a model name to a dict with a per-class list for each name in
    ``metrics``, such as the output of :func:`~pythae_t3cvae.metrics.per_class.per_class_prf`.
    ``figsize`` defaults to (4.5 per metric, 4.8) inches.
    """
    if not isinstance(results_by_model, Mapping) or not results_by_model:
        raise ValueError("results_by_model must be a non-empty dict of model name -> per-class results")
    if not metrics:
        raise ValueError("metrics must name at least one metric")
    for model_name, results in results_by_model.items():
        missing = [metric for metric in metrics if metric not in results]
        if missing:
            raise ValueError(f"results of model {model_name!r} lack the metrics {missing}; have {sorted(results)}")
    if figsize is None:
        figsize = (4.5 * len(metrics), 4.8)
    _validate_figure_size(figsize, dpi)

    figure = Figure(figsize=figsize, dpi=dpi)
    for index, metric in enumerate(metrics):
        values_by_model = {name: results[metric] for name, results in results_by_model.items()}
        names = _validate_radar_values(values_by_model, class_names)
        axis = figure.add_subplot(1, len(metrics), index + 1, projection="polar")
        _draw_radar(axis, values_by_model, names, metric)
    handles, legend_labels = axis.get_legend_handles_labels()
    figure.legend(handles, legend_labels, loc="lower center", ncol=min(len(results_by_model), 6), fontsize=8)
    figure.subplots_adjust(left=0.05, right=0.95, top=0.85, bottom=0.18, wspace=0.45)
    return _save(figure, path)


def plot_metric_curve(
    x: Sequence[float],
    values_by_model: Mapping[str, Sequence[float]],
    path: PathLike,
    xlabel: str,
    ylabel: str = "FID",
    log_x: bool = False,
    title: str = "",
    figsize: tuple[float, float] = (5.0, 3.5),
    dpi: int = 100,
) -> Path:
    """Plot a metric against a swept parameter (tau, beta, rho, ...), one line per model.

    Every model needs one value per entry of ``x``, and NaN values leave gaps. With ``log_x``
    the x axis is logarithmic, so ``x`` must be positive.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"x must be a non-empty 1-D sequence, got shape {x.shape}")
    if log_x and bool((x <= 0).any()):
        raise ValueError(f"log_x=True needs positive x values, got minimum {x.min()}")
    if not isinstance(values_by_model, Mapping) or not values_by_model:
        raise ValueError("values_by_model must be a non-empty dict of model name -> values")
    for model_name, values in values_by_model.items():
        if len(values) != x.size:
            raise ValueError(f"model {model_name!r} has {len(values)} values, expected {x.size} (one per x)")
    _validate_figure_size(figsize, dpi)

    figure = Figure(figsize=figsize, dpi=dpi)
    axis = figure.add_subplot()
    for model_name, values in values_by_model.items():
        axis.plot(x, np.asarray(values, dtype=float), marker="o", label=model_name)
    if log_x:
        axis.set_xscale("log")
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    if title:
        axis.set_title(title)
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return _save(figure, path)
