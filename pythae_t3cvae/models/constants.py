"""Constants of the t3VAE objective (Kim et al., ICLR 2024, arXiv:2312.01133).

Code names and the paper's symbols:

    nu      degrees of freedom of the joint Student's t prior (nu > 2)
    n       data dimension, C * H * W for images
    m       latent dimension
    sigma   decoder scale
    gamma   power of the gamma-power divergence, -2 / (nu + m + n)
    tau_b^2 squared scale at which the regulariser is minimal, Sigma_phi = tau_b^2 I
    C_bar   coefficient of the |Sigma_phi|^(1 / (nu + m + n - 2)) term of the regulariser
    tau^2   squared scale of the "alternative prior" used for generation

The normaliser C_{nu,n} involves Gamma functions of arguments in the thousands for image data
(n = 12288 for 64 x 64 RGB), so everything is computed in float64 log space with ``math.lgamma``.
"""

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class T3Constants:
    """The four constants of the t3VAE loss and sampler, as Python floats (float64)."""

    gamma: float
    tau_b_sq: float
    c_bar: float
    tau_sq: float

    @property
    def tau(self) -> float:
        """Theoretical sampling scale tau = sqrt(tau^2)."""
        return math.sqrt(self.tau_sq)


def log_t_normaliser(df: float, dim: int) -> float:
    """Return log C_{df,dim}, the log normaliser of a dim-dimensional Student's t with identity scale.

    C_{df,d} = Gamma((df + d) / 2) / (Gamma(df / 2) (df pi)^(d / 2)).
    """
    return math.lgamma((df + dim) / 2.0) - math.lgamma(df / 2.0) - 0.5 * dim * math.log(df * math.pi)


def t3_constants(nu: float, data_dim: int, latent_dim: int, sigma: float = 1.0) -> T3Constants:
    """Compute gamma, tau_b^2, C_bar and tau^2 of the t3VAE for the given dimensions.

    Args:
        nu: degrees of freedom, nu > 2.
        data_dim: n, the number of scalar values in one data point (C * H * W).
        latent_dim: m, the latent dimension.
        sigma: decoder scale, sigma > 0.

    The same constants serve the class-conditional C-t3VAE, because the gamma-power divergence is
    invariant to translating both distributions by the class mean.
    """
    if not (math.isfinite(nu) and nu > 2):
        raise ValueError(f"nu must be a finite number > 2, got nu={nu!r}")
    if int(data_dim) != data_dim or data_dim < 1:
        raise ValueError(f"data_dim must be a positive integer, got data_dim={data_dim!r}")
    if int(latent_dim) != latent_dim or latent_dim < 1:
        raise ValueError(f"latent_dim must be a positive integer, got latent_dim={latent_dim!r}")
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a finite number > 0, got sigma={sigma!r}")

    n, m = int(data_dim), int(latent_dim)

    # log b = log C_{nu,n} - n log sigma - log(1 + n / (nu - 2))
    log_b = log_t_normaliser(nu, n) - n * math.log(sigma) - math.log1p(n / (nu - 2.0))

    tau_b_sq = math.exp(2.0 / (nu + n - 2.0) * log_b)
    c_bar = (1.0 + m / (nu + n - 2.0)) * math.exp(2.0 / (nu + m + n - 2.0) * log_b)
    tau_sq = nu / (nu + n) * tau_b_sq
    gamma = -2.0 / (nu + m + n)

    return T3Constants(gamma=gamma, tau_b_sq=tau_b_sq, c_bar=c_bar, tau_sq=tau_sq)
