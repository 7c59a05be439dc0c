"""Heavy-tailed class-conditional VAEs (t3VAE, C-t3VAE, C-VAE) as pythae models and samplers."""

__version__ = "0.1.0"
