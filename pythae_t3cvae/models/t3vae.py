"""t3VAE: Student's t prior and posterior, trained with the gamma-power divergence.

Kim, Kwon, Cho, Lee and Won, "t3-Variational Autoencoder: Learning Heavy-tailed Data with Student's t
and Power Divergence", ICLR 2024, arXiv:2312.01133. With n the data dimension and m the latent one:

    prior        p(z) = t_m(0, I, nu)
    posterior    q(z|x) = t_m(mu_phi(x), Sigma_phi(x) / (1 + n / nu), nu + n)
    loss         |x - mu_theta(z)|^2 / sigma^2 + beta * t3_regulariser(mu_phi, Sigma_phi)
    generation   z ~ t_m(0, tau^2 I, nu + n), tau^2 = nu / (nu + n) tau_b^2   (T3Sampler)
"""

import torch

from .base import LatentPriorVAE
from .configs import T3VAEConfig
from .constants import t3_constants
from .distributions import sample_chi2
from .losses import t3_regulariser


def sample_t3_posterior(mu: torch.Tensor, log_var: torch.Tensor, nu: float, data_dim: int) -> torch.Tensor:
    """Reparametrised draw from t_m(mu, Sigma / (1 + n / nu), nu + n), Sigma = diag(exp(log_var)).

    Covariance of the draw: Sigma * nu / (nu + n - 2).
    """
    # This is sample_multivariate_t(mu, sqrt(nu / df) * exp(log_var / 2), df) with df = nu + n, from
    # the same random numbers (eps, then one v ~ chi2(df) per row). sqrt(nu / df) * sqrt(df / v) is
    # sqrt(nu / v), so one rsqrt per row replaces three elementwise passes over (B, m): this runs in
    # every training step.
    df = nu + data_dim
    eps = torch.randn(mu.shape, device=mu.device, dtype=mu.dtype)
    v = sample_chi2(df, mu.shape[0], device=mu.device, dtype=mu.dtype)
    row_factor = torch.rsqrt(v / nu).unsqueeze(-1)
    return torch.addcmul(mu, torch.exp(0.5 * log_var), eps * row_factor)


class T3VAE(LatentPriorVAE):
    """t3VAE as a pythae model; see the module docstring for the formulas.

    Args:
        model_config (T3VAEConfig): the configuration.
        encoder, decoder: pythae networks; None builds ``model_config.network`` when set, else
            pythae's default MLPs.
    """

    def __init__(self, model_config: T3VAEConfig, encoder=None, decoder=None):
        super().__init__(model_config, encoder=encoder, decoder=decoder)
        self.constants = t3_constants(
            model_config.nu, self.data_dim, model_config.latent_dim, model_config.sigma
        )

    def sample_posterior(self, mu, log_var):
        return sample_t3_posterior(mu, log_var, self.model_config.nu, self.data_dim)

    def regulariser(self, mu, log_var, labels):
        return t3_regulariser(mu, log_var, self.model_config.nu, self.data_dim, self.constants)
