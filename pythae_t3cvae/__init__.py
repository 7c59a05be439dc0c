"""Heavy-tailed class-conditional VAEs (t3VAE, C-t3VAE, C-VAE) as pythae models and samplers.

Importing this package registers its models with pythae's ``AutoConfig`` / ``AutoModel`` and its
samplers with ``GenerationPipeline``.
"""

import logging

from . import registry
from .models import (
    CVAE,
    T3CVAE,
    T3VAE,
    CVAEConfig,
    T3Constants,
    T3CVAEConfig,
    T3VAEConfig,
    class_counts,
    t3_constants,
)
from .samplers import ClassMixtureSampler, ClassMixtureSamplerConfig, T3Sampler, T3SamplerConfig

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

for _config, _model in ((T3VAEConfig, T3VAE), (CVAEConfig, CVAE), (T3CVAEConfig, T3CVAE)):
    registry.register_model(_config, _model)
for _config, _sampler in ((T3SamplerConfig, T3Sampler), (ClassMixtureSamplerConfig, ClassMixtureSampler)):
    registry.register_sampler(_config, _sampler)
registry.install()

__all__ = [
    "CVAE", "CVAEConfig", "ClassMixtureSampler", "ClassMixtureSamplerConfig", "T3CVAE",
    "T3CVAEConfig", "T3Constants", "T3Sampler", "T3SamplerConfig", "T3VAE", "T3VAEConfig",
    "class_counts", "t3_constants",
]
