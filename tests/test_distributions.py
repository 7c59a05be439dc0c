"""Statistical tests of the posterior draws of the models and of the chi-square sampler.

The t3 posterior t_m(mu, Sigma / (1 + n/nu), nu + n) has covariance Sigma nu / (nu + n - 2), and its
draws share one chi-square variable across the m coordinates. Every draw below is seeded, so each test
gives the same result on every run; the tolerances are several standard errors wide.
"""

import math

import numpy as np
import pytest
import torch
from pythae.models.base.base_utils import ModelOutput
from pythae.models.nn import BaseDecoder, BaseEncoder
from scipy import stats

from pythae_t3cvae import CVAE, T3CVAE, T3VAE, CVAEConfig, T3CVAEConfig, T3VAEConfig
from pythae_t3cvae.models.distributions import sample_chi2

NU, DATA_SHAPE = 9.0, (3,)
N_DATA = 3
DF = NU + N_DATA  # degrees of freedom of the t3 posterior
LOG_VAR = torch.tensor([-1.0, 0.0, 0.5, 1.0])
MU = torch.tensor([0.5, -2.0, 0.0, 3.0])
N_DRAWS = 200_000


class BroadcastEncoder(BaseEncoder):
    """Encoder that returns the same mu and log_var for every input."""

    def forward(self, x):
        batch = x.shape[0]
        return ModelOutput(
            embedding=MU.expand(batch, -1).clone(), log_covariance=LOG_VAR.expand(batch, -1).clone()
        )


class ZeroDecoder(BaseDecoder):
    """Decoder that returns zeros of the data shape (the draws of z are what is tested)."""

    def forward(self, z):
        return ModelOutput(reconstruction=torch.zeros(z.shape[0], *DATA_SHAPE))


def draw_posterior(model_cls, num_draws=N_DRAWS, seed=0):
    """Return ``num_draws`` posterior draws z of a model whose encoder outputs MU and LOG_VAR."""
    m = MU.numel()
    if model_cls is T3VAE:
        config = T3VAEConfig(input_dim=DATA_SHAPE, latent_dim=m, nu=NU)
    elif model_cls is T3CVAE:
        config = T3CVAEConfig(input_dim=DATA_SHAPE, latent_dim=m, nu=NU, n_classes=2)
    else:
        config = CVAEConfig(input_dim=DATA_SHAPE, latent_dim=m, n_classes=2)
    model = model_cls(config, encoder=BroadcastEncoder(), decoder=ZeroDecoder())

    torch.manual_seed(seed)
    with torch.no_grad():
        z = model.embed(torch.zeros(num_draws, *DATA_SHAPE))
    return z.double().numpy()


def standardised(z, variance):
    """Return (z - mu) / sqrt(variance), coordinate-wise."""
    return (z - MU.double().numpy()) / np.sqrt(variance)


@pytest.mark.parametrize("model_cls", [T3VAE, T3CVAE])
def test_posterior_covariance_t3(model_cls):
    z = draw_posterior(model_cls)
    sigma = np.exp(LOG_VAR.double().numpy())
    expected_factor = NU / (NU + N_DATA - 2)
    wrong_factor = NU / (NU + N_DATA)  # covariance of the posterior's scale matrix, without df / (df - 2)

    covariance = np.cov(z, rowvar=False)
    factors = np.diag(covariance) / sigma
    correlation = covariance / np.sqrt(np.outer(np.diag(covariance), np.diag(covariance)))
    # Relative standard error of one variance estimate: sqrt((2 + excess kurtosis) / N), excess 6 / (df - 4).
    tolerance = 8 * math.sqrt((2 + 6 / (DF - 4)) / N_DRAWS)

    assert np.allclose(z.mean(axis=0), MU.numpy(), atol=0.02)
    assert np.all(np.abs(factors / expected_factor - 1) < tolerance), factors
    assert np.all(np.abs(factors / wrong_factor - 1) > tolerance), factors
    assert np.all(np.abs(correlation[np.triu_indices(4, k=1)]) < 0.01)


def test_posterior_covariance_gaussian():
    z = draw_posterior(CVAE)
    sigma = np.exp(LOG_VAR.double().numpy())

    factors = np.var(z, axis=0) / sigma

    assert np.allclose(z.mean(axis=0), MU.numpy(), atol=0.02)
    assert np.all(np.abs(factors - 1) < 8 * math.sqrt(2 / N_DRAWS)), factors


@pytest.mark.parametrize("model_cls", [T3VAE, T3CVAE])
def test_posterior_shared_chi2_correlation(model_cls):
    # With u_j = eps_j sqrt(w) and one w = df / v per draw:
    # corr(u_i^2, u_j^2) = (E w^2 - (E w)^2) / (3 E w^2 - (E w)^2).
    mean_w = DF / (DF - 2)
    mean_w_sq = DF**2 / ((DF - 2) * (DF - 4))
    expected = (mean_w_sq - mean_w**2) / (3 * mean_w_sq - mean_w**2)
    z = draw_posterior(model_cls)
    squares = standardised(z, np.exp(LOG_VAR.double().numpy())) ** 2

    pairs = np.corrcoef(squares, rowvar=False)[np.triu_indices(4, k=1)]
    average = pairs.mean()

    # Independent univariate t coordinates would give 0.
    assert average > expected / 2
    assert abs(average - expected) < 0.03


@pytest.mark.parametrize("model_cls", [T3VAE, T3CVAE])
def test_posterior_radius_f_distribution(model_cls):
    # |u|^2 / m = (|eps|^2 / m) / (v / df) ~ F(m, df) when one chi-square v serves all m coordinates.
    m = MU.numel()
    scale_sq = np.exp(LOG_VAR.double().numpy()) * NU / (NU + N_DATA)
    z = draw_posterior(model_cls, num_draws=20_000)
    radius = (standardised(z, scale_sq) ** 2).sum(axis=1) / m

    # The same statistic for m independent univariate t's, drawn with scipy, to show the test has power.
    rng = np.random.default_rng(0)
    independent = (stats.t.rvs(DF, size=(20_000, m), random_state=rng) ** 2).sum(axis=1) / m

    assert stats.kstest(radius, stats.f(m, DF).cdf).pvalue > 1e-3
    assert stats.kstest(independent, stats.f(m, DF).cdf).pvalue < 1e-6


# sample_chi2

@pytest.mark.parametrize("df", [1.0, 3.0, 12.0, 12298.0])
def test_chi2_generator_ks(df):
    generator = torch.Generator().manual_seed(123)

    draws = sample_chi2(df, 20_000, generator=generator, dtype=torch.float64)

    assert draws.shape == (20_000,)
    assert stats.kstest(draws.numpy(), stats.chi2(df).cdf).pvalue > 1e-3


def test_chi2_generator_ks_rejects_wrong_df():
    generator = torch.Generator().manual_seed(123)

    draws = sample_chi2(3.0, 20_000, generator=generator, dtype=torch.float64)

    assert stats.kstest(draws.numpy(), stats.chi2(3.3).cdf).pvalue < 1e-6


@pytest.mark.parametrize("df", [1.0, 12.0])
def test_chi2_default_rng_ks(df):
    torch.manual_seed(7)

    draws = sample_chi2(df, 20_000)

    assert draws.dtype == torch.float32
    assert stats.kstest(draws.double().numpy(), stats.chi2(df).cdf).pvalue > 1e-3


def test_chi2_generator_reproducible():
    first = sample_chi2(5.0, 1000, generator=torch.Generator().manual_seed(42))
    second = sample_chi2(5.0, 1000, generator=torch.Generator().manual_seed(42))
    other = sample_chi2(5.0, 1000, generator=torch.Generator().manual_seed(43))

    assert torch.equal(first, second)
    assert not torch.equal(first, other)


def test_chi2_generator_leaves_global_rng():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)

    sample_chi2(5.0, 1000, generator=torch.Generator().manual_seed(42))

    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("df", [0.0, -1.0])
def test_chi2_invalid_df(df):
    with pytest.raises(ValueError, match=f"df={df!r}"):
        sample_chi2(df, 10)
