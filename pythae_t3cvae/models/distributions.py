"""Draws from the chi-square and multivariate Student's t distributions used by models and samplers.

A d-dimensional t_d(loc, scale^2 I, df) draw is loc + scale * eps * sqrt(df / v) with eps ~ N(0, I_d)
and one v ~ chi2(df) per sample, shared by all d coordinates: a multivariate t, not d independent
univariate t's. Its covariance is scale^2 df / (df - 2) I, not scale^2 I.
"""

import math
from typing import Optional

import torch


def sample_chi2(
    df: float,
    num_samples: int,
    generator: Optional[torch.Generator] = None,
    device=None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Draw ``num_samples`` chi-square variables with ``df`` degrees of freedom, shape (num_samples,).

    Without a generator this is torch's gamma sampler. With one, torch's gamma sampler cannot take
    it, so the draw uses Marsaglia and Tsang's squeeze method (ACM TOMS 26(3), 2000) on the
    generator's normal and uniform streams, in float64 and vectorised: every round redraws only the
    rejected entries, and each round accepts more than 95% of them for df > 2.
    """
    if not df > 0:
        raise ValueError(f"df must be > 0, got df={df!r}")
    if generator is None:
        concentration = torch.full((num_samples,), df / 2.0, device=device, dtype=dtype)
        return 2.0 * torch._standard_gamma(concentration)

    device = generator.device if device is None else device
    shape = df / 2.0
    # The squeeze method needs shape >= 1; Gamma(a) = Gamma(a + 1) * U^(1/a) covers smaller shapes.
    boost = shape < 1.0
    d = (shape + 1.0 if boost else shape) - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)

    gamma = torch.empty(num_samples, dtype=torch.float64, device=device)
    pending = torch.arange(num_samples, device=device)
    while pending.numel() > 0:
        x = torch.randn(pending.numel(), generator=generator, dtype=torch.float64, device=device)
        u = torch.rand(pending.numel(), generator=generator, dtype=torch.float64, device=device)
        v = (1.0 + c * x) ** 3
        positive = v > 0
        log_v = torch.log(torch.where(positive, v, torch.ones_like(v)))
        accept = positive & (torch.log(u) < 0.5 * x**2 + d - d * v + d * log_v)
        gamma[pending[accept]] = d * v[accept]
        pending = pending[~accept]

    if boost:
        u = torch.rand(num_samples, generator=generator, dtype=torch.float64, device=device)
        gamma = gamma * u ** (1.0 / shape)
    return (2.0 * gamma).to(dtype)


def sample_multivariate_t(
    loc: torch.Tensor,
    scale: torch.Tensor,
    df: float,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """Draw one t_d(loc, diag(scale^2), df) sample per row of ``loc`` (shape (B, d)).

    Gradients flow to ``loc`` and ``scale``; the chi-square variable carries none.
    """
    eps = torch.randn(loc.shape, generator=generator, device=loc.device, dtype=loc.dtype)
    v = sample_chi2(df, loc.shape[0], generator=generator, device=loc.device, dtype=loc.dtype)
    return loc + scale * eps * torch.sqrt(df / v).unsqueeze(-1)
