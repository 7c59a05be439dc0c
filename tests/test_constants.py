"""Tests of the t3VAE constants gamma, tau_b^2, C_bar and tau^2 against independent computations.

The reference values come from mpmath at 50 significant digits and from scipy's multivariate t density;
none of them calls the package.
"""

import math

import mpmath
import numpy as np
import pytest
from scipy import optimize, stats

from pythae_t3cvae import t3_constants

mpmath.mp.dps = 50


def reference_constants(nu, n, m, sigma):
    """Return (gamma, tau_b^2, C_bar, tau^2) computed with mpmath at 50 digits."""
    nu, sigma = mpmath.mpf(nu), mpmath.mpf(sigma)
    log_gamma_ratio = mpmath.loggamma((nu + n) / 2) - mpmath.loggamma(nu / 2)
    log_c = log_gamma_ratio - n / mpmath.mpf(2) * mpmath.log(nu * mpmath.pi)
    log_b = log_c - n * mpmath.log(sigma) - mpmath.log(1 + n / (nu - 2))

    tau_b_sq = mpmath.exp(2 / (nu + n - 2) * log_b)
    c_bar = (1 + m / (nu + n - 2)) * mpmath.exp(2 / (nu + m + n - 2) * log_b)
    tau_sq = nu / (nu + n) * tau_b_sq
    gamma = -2 / (nu + m + n)
    return float(gamma), float(tau_b_sq), float(c_bar), float(tau_sq)


SMALL_CASES = [
    (nu, n, m, sigma)
    for n in range(2, 11)
    for nu, m, sigma in ((2.5, 1, 1.0), (10.0, 3, 0.5), (37.0, 8, 2.0))
]
IMAGE_CASES = [
    (nu, n, m, sigma)
    for n in (3072, 12288)
    for nu, m, sigma in ((10.0, 64, 1.0), (3.0, 16, 0.3), (100.0, 128, 1.7))
]


@pytest.mark.parametrize("nu, n, m, sigma", SMALL_CASES + IMAGE_CASES)
def test_constants_match_mpmath(nu, n, m, sigma):
    expected_gamma, expected_tau_b_sq, expected_c_bar, expected_tau_sq = reference_constants(nu, n, m, sigma)

    constants = t3_constants(nu, n, m, sigma)

    assert constants.gamma == pytest.approx(expected_gamma, rel=1e-12)
    assert constants.tau_b_sq == pytest.approx(expected_tau_b_sq, rel=1e-10)
    assert constants.c_bar == pytest.approx(expected_c_bar, rel=1e-10)
    assert constants.tau_sq == pytest.approx(expected_tau_sq, rel=1e-10)
    assert constants.tau == pytest.approx(math.sqrt(expected_tau_sq), rel=1e-10)


@pytest.mark.parametrize("nu, n, m, sigma", SMALL_CASES)
def test_constants_match_scipy_density(nu, n, m, sigma):
    # C_{nu,n} is the density of t_n(0, I, nu) at its centre, so scipy gives log b without any Gamma function.
    log_c = stats.multivariate_t(loc=np.zeros(n), shape=np.eye(n), df=nu).logpdf(np.zeros(n))
    log_b = log_c - n * math.log(sigma) - math.log(1 + n / (nu - 2))
    expected_tau_b_sq = math.exp(2 / (nu + n - 2) * log_b)
    expected_c_bar = (1 + m / (nu + n - 2)) * math.exp(2 / (nu + m + n - 2) * log_b)

    constants = t3_constants(nu, n, m, sigma)

    assert constants.tau_b_sq == pytest.approx(expected_tau_b_sq, rel=1e-9)
    assert constants.c_bar == pytest.approx(expected_c_bar, rel=1e-9)


@pytest.mark.parametrize(
    "n, expected_c_bar, expected_tau_sq",
    [(3072, 17.46, 0.0589), (12288, 70.9, 0.0586)],
)
def test_constants_image_magnitudes(n, expected_c_bar, expected_tau_sq):
    # Published orders of magnitude for m = 64, sigma = 1, nu = 10, rounded to the digits shown.
    constants = t3_constants(10.0, n, 64, 1.0)
    c_bar_digits = 2 if n == 3072 else 1

    assert round(constants.c_bar, c_bar_digits) == expected_c_bar
    assert round(constants.tau_sq, 4) == expected_tau_sq


@pytest.mark.parametrize("nu, n, m", [(3.0, 2, 1), (10.0, 64, 4), (10.0, 3072, 64), (10.0, 12288, 64)])
def test_constants_regulariser_minimum(nu, n, m):
    # The regulariser at mu = 0, Sigma = s I, written out here, has its minimum 0 at s = tau_b^2.
    constants = t3_constants(nu, n, m)

    def regulariser(log_s):
        s = math.exp(log_s)
        return (
            nu / (nu + n - 2) * m * s
            - nu * constants.c_bar * s ** (m / (nu + m + n - 2))
            + nu * constants.tau_b_sq
        )

    result = optimize.minimize_scalar(regulariser, bracket=(-5.0, 5.0), tol=1e-12)

    assert math.exp(result.x) == pytest.approx(constants.tau_b_sq, rel=1e-5)
    assert abs(result.fun) < 1e-9 * nu * constants.tau_b_sq


@pytest.mark.parametrize(
    "kwargs, shown",
    [
        (dict(nu=2.0), "nu=2.0"),
        (dict(nu=float("nan")), "nu=nan"),
        (dict(data_dim=0), "data_dim=0"),
        (dict(latent_dim=1.5), "latent_dim=1.5"),
        (dict(sigma=0.0), "sigma=0.0"),
        (dict(sigma=-1.0), "sigma=-1.0"),
    ],
)
def test_constants_invalid_arguments(kwargs, shown):
    arguments = dict(nu=10.0, data_dim=64, latent_dim=4, sigma=1.0)
    arguments.update(kwargs)

    with pytest.raises(ValueError) as error:
        t3_constants(**arguments)

    assert shown in str(error.value)
