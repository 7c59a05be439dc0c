"""The comparison experiment: model grid, resumable training, evaluation and result tables."""

from .grid import GRID, MODEL_NAMES, GridSettings
from .runner import BenchConfig, run_experiment

__all__ = ["BenchConfig", "GRID", "GridSettings", "MODEL_NAMES", "run_experiment"]
