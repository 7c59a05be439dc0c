"""Tests of the closed-form gamma-power divergence between two Student's t distributions.

The t3VAE regulariser is derived from this closed form, so it is checked here against numerical
quadrature of the divergence's definition, in one dimension:

    ||p||_{1+g} = (integral p^(1+g))^(1/(1+g))
    D_g(q || p) = -(1/g) integral q (p / ||p||_{1+g})^g + (1/g) ||q||_{1+g},   g = -2 / (nu + d)
"""

import math

import numpy as np
import pytest
from scipy import integrate, special, stats

QUAD_OPTIONS = dict(limit=500, epsabs=0.0, epsrel=1e-12)


def t_normaliser(df, d):
    """Return C_{df,d} = Gamma((df + d)/2) / (Gamma(df/2) (df pi)^(d/2))."""
    return math.exp(special.gammaln((df + d) / 2) - special.gammaln(df / 2) - d / 2 * math.log(df * math.pi))


def closed_form_divergence(m0, s0, m1, s1, nu):
    """Return D_g(t_1(m0, s0, nu) || t_1(m1, s1, nu)) from the closed form (s0, s1 are squared scales)."""
    d = 1
    g = -2 / (nu + d)
    prefactor = -(1 / g) * t_normaliser(nu, d) ** (g / (1 + g)) * (1 + d / (nu - 2)) ** (-g / (1 + g))
    exponent = -g / (2 * (1 + g))
    cross = s1**exponent * (1 + (s0 / s1) / (nu - 2) + (m0 - m1) ** 2 / s1 / nu)
    self_term = s0**exponent * (1 + d / (nu - 2))
    return prefactor * (cross - self_term)


def t_density(loc, scale_sq, df):
    """Return the density function of t_1(loc, scale_sq, df), checked against scipy.stats.t below."""
    c = t_normaliser(df, 1) / math.sqrt(scale_sq)
    return lambda x: c * (1 + (x - loc) ** 2 / (scale_sq * df)) ** (-(df + 1) / 2)


def quadrature_divergence(m0, s0, m1, s1, nu):
    """Return D_g(q || p) by integrating its definition with scipy.integrate.quad."""
    g = -2 / (nu + 1)
    q = t_density(m0, s0, nu)
    p = t_density(m1, s1, nu)

    def norm(density):
        integral, _ = integrate.quad(lambda x: density(x) ** (1 + g), -np.inf, np.inf, **QUAD_OPTIONS)
        return integral ** (1 / (1 + g))

    p_norm = norm(p)
    cross, _ = integrate.quad(lambda x: q(x) * (p(x) / p_norm) ** g, -np.inf, np.inf, **QUAD_OPTIONS)
    return -cross / g + norm(q) / g


@pytest.mark.parametrize(
    "m0, s0, m1, s1, nu",
    [
        (0.5, 2.0, -0.3, 0.7, 5.0),
        (1.0, 0.5, 0.0, 1.0, 3.5),
        (0.2, 3.0, 1.0, 1.5, 10.0),
        (2.0, 1.0, 0.0, 1.0, 4.0),
        (-1.5, 0.05, 0.4, 8.0, 2.5),
    ],
)
def test_divergence_closed_form_matches_quadrature(m0, s0, m1, s1, nu):
    closed = closed_form_divergence(m0, s0, m1, s1, nu)
    numeric = quadrature_divergence(m0, s0, m1, s1, nu)

    assert closed == pytest.approx(numeric, rel=1e-8)


def test_divergence_density_matches_scipy():
    x = np.linspace(-20.0, 20.0, 101)
    expected = stats.t(df=3.5, loc=0.4, scale=math.sqrt(2.5)).pdf(x)

    assert np.allclose(t_density(0.4, 2.5, 3.5)(x), expected, rtol=1e-12, atol=0)


def test_divergence_zero_between_equal_distributions():
    assert abs(closed_form_divergence(0.3, 1.7, 0.3, 1.7, 6.0)) < 1e-12
    assert abs(quadrature_divergence(0.3, 1.7, 0.3, 1.7, 6.0)) < 1e-9


def test_divergence_positive_between_different_distributions():
    rng = np.random.default_rng(0)
    for _ in range(5):
        m0, m1 = rng.normal(size=2)
        s0, s1 = np.exp(rng.normal(size=2))
        assert quadrature_divergence(m0, s0, m1, s1, 7.0) > 0
