"""Sampler configurations, validated at construction."""

import math
from typing import List, Optional

from pydantic.dataclasses import dataclass
from pythae.samplers import BaseSamplerConfig


def check_tau(tau) -> None:
    if tau is not None and not (isinstance(tau, (int, float)) and math.isfinite(tau) and tau > 0):
        raise ValueError(f"tau must be None (the model's default) or a finite number > 0, got tau={tau!r}")


def check_weights(weights) -> None:
    if weights is None:
        return
    if any(not math.isfinite(w) or w < 0 for w in weights):
        raise ValueError(f"weights must be finite and non-negative, got weights={list(weights)!r}")
    if not sum(weights) > 0:
        raise ValueError(f"weights must sum to a positive number, got weights={list(weights)!r}")


@dataclass
class T3SamplerConfig(BaseSamplerConfig):
    """Configuration of :class:`T3Sampler`.

    Parameters:
        tau (float or None): scale of the generation prior t_m(0, tau^2 I, nu + n). None uses the
            theoretical tau of the model, sqrt(nu / (nu + n) * tau_b^2). Default: None.
    """

    tau: Optional[float] = None

    def __post_init__(self):
        super().__post_init__()
        check_tau(self.tau)


@dataclass
class ClassMixtureSamplerConfig(BaseSamplerConfig):
    """Configuration of :class:`ClassMixtureSampler`.

    Parameters:
        tau (float or None): scale of every mixture component. None uses the theoretical tau of a
            T3CVAE and 1 for a CVAE. Default: None.
        weights (list of float or None): mixture weight of each class, normalised to sum to 1.
            None gives equal weights (class-balanced generation). Default: None.
    """

    tau: Optional[float] = None
    weights: Optional[List[float]] = None

    def __post_init__(self):
        super().__post_init__()
        check_tau(self.tau)
        check_weights(self.weights)
