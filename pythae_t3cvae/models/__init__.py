"""The models: T3VAE, T3CVAE (C-t3VAE) and the Gaussian conditional baseline CVAE."""

from .configs import CVAEConfig, T3CVAEConfig, T3VAEConfig
from .constants import T3Constants, t3_constants
from .cvae import CVAE
from .labels import class_counts, parse_labels
from .t3cvae import T3CVAE
from .t3vae import T3VAE

__all__ = [
    "CVAE", "CVAEConfig", "T3CVAE", "T3CVAEConfig", "T3Constants", "T3VAE", "T3VAEConfig",
    "class_counts", "parse_labels", "t3_constants",
]
