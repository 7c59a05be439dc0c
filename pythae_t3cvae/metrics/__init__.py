"""Evaluation metrics: FID, generative precision/recall/F1, per-class scores, class coverage, plots.

The modules import no optional packages: the FID weights are located as a file (see
:mod:`pythae_t3cvae.metrics.fid`), and matplotlib is used only through the Agg canvas.
"""

from .classifier import (
    SmallCNN,
    classifier_accuracy,
    classifier_features,
    load_classifier,
    predict_labels,
    save_classifier,
    train_classifier,
)
from .fid import (
    FeatureStatistics,
    FIDMetric,
    FIDResult,
    InceptionFeatureExtractor,
    default_weights_path,
    frechet_distance,
    load_inception,
    preprocess_for_inception,
    resize_bilinear_legacy,
)
from .per_class import class_coverage, per_class_prf
from .plots import plot_metric_curve, plot_prf_radars, plot_radar, plot_sample_grid
from .precision_recall import f1_score, knn_radii, precision_recall

__all__ = [
    "FIDMetric",
    "FIDResult",
    "FeatureStatistics",
    "InceptionFeatureExtractor",
    "SmallCNN",
    "class_coverage",
    "classifier_accuracy",
    "classifier_features",
    "default_weights_path",
    "f1_score",
    "frechet_distance",
    "knn_radii",
    "load_classifier",
    "load_inception",
    "per_class_prf",
    "plot_metric_curve",
    "plot_prf_radars",
    "plot_radar",
    "plot_sample_grid",
    "precision_recall",
    "predict_labels",
    "preprocess_for_inception",
    "resize_bilinear_legacy",
    "save_classifier",
    "train_classifier",
]
