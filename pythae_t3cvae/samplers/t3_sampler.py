"""T3Sampler: generation from a T3VAE through its "alternative prior" z ~ t_m(0, tau^2 I, nu + n)."""

import torch

from ..models import T3VAE
from ..models.distributions import sample_multivariate_t
from .base import LatentSampler
from .configs import T3SamplerConfig


class T3Sampler(LatentSampler):
    """Draw z ~ t_m(0, tau^2 I, nu + n) and decode with the decoder mean.

    tau defaults to the theoretical value sqrt(nu / (nu + n) * tau_b^2) of the model; set
    ``T3SamplerConfig(tau=...)`` to sweep it (the best tau depends on the dataset).
    """

    model_types = (T3VAE,)

    def __init__(self, model: T3VAE, sampler_config: T3SamplerConfig = None):
        super().__init__(model, sampler_config or T3SamplerConfig())

    def draw_latents(self, labels, num_samples, generator):
        df = self.model.model_config.nu + self.model.data_dim
        loc = torch.zeros(num_samples, self.model.latent_dim, device=self.device)
        scale = torch.full_like(loc, self.tau)
        return sample_multivariate_t(loc, scale, df, generator=generator)
