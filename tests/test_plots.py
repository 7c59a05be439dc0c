"""Tests that the plotting functions write valid PNG files of the expected pixel size."""

import math

import pytest
import torch
from PIL import Image

from pythae_t3cvae.metrics.plots import plot_metric_curve, plot_prf_radars, plot_radar, plot_sample_grid


def _png_size(path):
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        return image.format, image.size


@pytest.mark.parametrize("channels", [1, 3])
def test_sample_grid_one_row_per_class(tmp_path, channels):
    images = torch.rand(12, channels, 16, 16)
    labels = torch.tensor([2, 0, 1] * 4)

    path = plot_sample_grid(images, labels, tmp_path / "grid.png", n_per_class=5, dpi=50)

    # Default figsize: (0.8 * 5 + 1, 0.8 * 3 rows + 0.4) inches.
    assert path == tmp_path / "grid.png"
    assert _png_size(path) == ("PNG", (int(5.0 * 50), int(round(2.8 * 50))))


def test_sample_grid_explicit_size_and_names(tmp_path):
    images = torch.rand(6, 3, 8, 8) * 1.5 - 0.25  # out of range values are clamped
    labels = [0, 0, 1, 1, 1, 1]

    path = plot_sample_grid(images, labels, tmp_path / "sub" / "grid.png", class_names=["cat", "dog"], figsize=(4, 2), dpi=80)

    assert _png_size(path) == ("PNG", (320, 160))


def test_radar_chart_size(tmp_path):
    values = {"C-VAE": [0.2, 0.5, 0.9, 0.4], "C-t3VAE": [0.6, 0.7, 0.8, float("nan")]}

    path = plot_radar(values, tmp_path / "radar.png", class_names=["a", "b", "c", "d"], title="recall", figsize=(4, 4), dpi=60)

    assert _png_size(path) == ("PNG", (240, 240))


def test_prf_radars_from_per_class_results(tmp_path):
    results = {
        "C-VAE": {"recall": [0.1, 0.2, 0.3], "precision": [0.4, 0.5, 0.6], "f1": [0.2, 0.3, 0.4]},
        "C-t3VAE": {"recall": [0.3, 0.2, 0.1], "precision": [0.6, 0.5, 0.4], "f1": [0.4, 0.3, 0.2]},
    }

    path = plot_prf_radars(results, tmp_path / "radars.png", dpi=40)

    # Default figsize: 4.5 inches per metric by 4.8 inches.
    assert _png_size(path) == ("PNG", (int(13.5 * 40), int(4.8 * 40)))


def test_metric_curve_size(tmp_path):
    tau = [0.1, 0.5, 1.0, 2.0]
    fid_by_model = {"t3VAE": [50.0, 40.0, 45.0, 60.0], "VAE": [70.0, 65.0, 66.0, math.nan]}

    path = plot_metric_curve(tau, fid_by_model, tmp_path / "fid_tau.png", xlabel="tau", log_x=True, dpi=50)

    assert _png_size(path) == ("PNG", (250, 175))


def test_plots_reject_bad_input(tmp_path):
    with pytest.raises(ValueError, match="must end in .png"):
        plot_metric_curve([1, 2], {"a": [1, 2]}, tmp_path / "curve.pdf", xlabel="rho")
    with pytest.raises(ValueError, match="model 'a' has 1 values, expected 2"):
        plot_metric_curve([1, 2], {"a": [1]}, tmp_path / "curve.png", xlabel="rho")
    with pytest.raises(ValueError, match="log_x=True needs positive x"):
        plot_metric_curve([0, 2], {"a": [1, 2]}, tmp_path / "curve.png", xlabel="beta", log_x=True)
    with pytest.raises(ValueError, match="at least 3 classes"):
        plot_radar({"a": [0.1, 0.2]}, tmp_path / "radar.png")
    with pytest.raises(ValueError, match="same number of per-class values"):
        plot_radar({"a": [0.1, 0.2, 0.3], "b": [0.1, 0.2, 0.3, 0.4]}, tmp_path / "radar.png")
    with pytest.raises(ValueError, match="lack the metrics \\['f1'\\]"):
        plot_prf_radars({"a": {"recall": [0.1] * 3, "precision": [0.1] * 3}}, tmp_path / "radars.png")
    with pytest.raises(ValueError, match="labels must have shape \\(4,\\)"):
        plot_sample_grid(torch.rand(4, 3, 8, 8), [0, 1], tmp_path / "grid.png")
    with pytest.raises(ValueError, match="C in \\{1, 3\\}"):
        plot_sample_grid(torch.rand(4, 2, 8, 8), [0, 1, 0, 1], tmp_path / "grid.png")
