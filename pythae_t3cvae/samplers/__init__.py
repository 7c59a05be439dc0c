"""Samplers: class-balanced and targeted generation (ClassMixtureSampler) and T3Sampler."""

from .base import LatentSampler
from .class_mixture_sampler import ClassMixtureSampler
from .configs import ClassMixtureSamplerConfig, T3SamplerConfig
from .images import MANIFEST_NAME, to_uint8
from .t3_sampler import T3Sampler

__all__ = [
    "ClassMixtureSampler", "ClassMixtureSamplerConfig", "LatentSampler", "MANIFEST_NAME",
    "T3Sampler", "T3SamplerConfig", "to_uint8",
]
