"""Tests of T3Sampler and ClassMixtureSampler, as a user of pythae and this package calls them.

Expected values come from the formulas of the t3VAE, C-t3VAE and C-VAE generation priors. They are
computed here with scipy or written out by hand, never by the code under test. Statistical checks
use fixed seeds, so they are deterministic, with tolerances of several standard errors that a wrong
scale, a wrong mean or Gaussian tails exceed by far.
"""

import csv
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from pythae.data.datasets import BaseDataset
from pythae.models import VAE, VAEConfig
from pythae.models.base.base_utils import ModelOutput
from pythae.models.nn import BaseDecoder
from pythae.pipelines import GenerationPipeline, TrainingPipeline
from pythae.samplers import GaussianMixtureSampler, GaussianMixtureSamplerConfig, NormalSampler
from pythae.trainers import BaseTrainerConfig
from scipy import special, stats
from sklearn.datasets import load_digits

import pythae_t3cvae  # noqa: F401  (registers the samplers with GenerationPipeline)
from pythae_t3cvae import (
    CVAE,
    T3CVAE,
    T3VAE,
    ClassMixtureSampler,
    ClassMixtureSamplerConfig,
    CVAEConfig,
    T3CVAEConfig,
    T3Sampler,
    T3SamplerConfig,
    T3VAEConfig,
    class_counts,
)

# Class means of the latent tests: K = 3 classes, m = 3 latent dimensions.
MEANS = torch.tensor([[2.0, -1.0, 0.5], [-3.0, 0.0, 1.0], [0.0, 4.0, -2.0]])
# Number of latent draws of the statistical tests.
N_DRAWS = 200_000


# ---------------------------------------------------------------------------------------------
# Decoders and models


class LatentAsImage(BaseDecoder):
    """Decoder that returns z itself, reshaped to an image of ``shape`` (prod(shape) == latent_dim)."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, z):
        return ModelOutput(reconstruction=z.reshape(z.shape[0], *self.shape))


class ConstantImage(BaseDecoder):
    """Decoder that returns the same image for every z."""

    def __init__(self, image):
        super().__init__()
        self.register_buffer("image", torch.as_tensor(image, dtype=torch.float32))

    def forward(self, z):
        return ModelOutput(reconstruction=self.image.unsqueeze(0).repeat(z.shape[0], 1, 1, 1))


def identity_t3cvae(n, nu=3.0, n_classes=3, means=MEANS):
    """T3CVAE with data dimension n whose "images" are its latents, class means ``means``."""
    config = T3CVAEConfig(input_dim=(n,), latent_dim=means.shape[1], nu=nu, n_classes=n_classes)
    model = T3CVAE(config, decoder=LatentAsImage((1, 1, means.shape[1])))
    model.class_means.data = means[:n_classes].clone()
    return model


def identity_cvae(n_classes=3, means=MEANS):
    config = CVAEConfig(input_dim=(4,), latent_dim=means.shape[1], n_classes=n_classes)
    model = CVAE(config, decoder=LatentAsImage((1, 1, means.shape[1])))
    model.class_means.data = means[:n_classes].clone()
    return model


def identity_t3vae(n, nu=3.0, latent_dim=3):
    config = T3VAEConfig(input_dim=(n,), latent_dim=latent_dim, nu=nu)
    return T3VAE(config, decoder=LatentAsImage((1, 1, latent_dim)))


def conv8_t3cvae(n_classes=5):
    config = T3CVAEConfig(
        input_dim=(1, 8, 8), latent_dim=4, n_classes=n_classes, network="conv8", network_width=0.25
    )
    return T3CVAE(config)


def separated_t3cvae(n_classes=5):
    """Identity-decoder T3CVAE with class means 20 e_y, so an image's nearest mean is its class."""
    means = 20.0 * torch.eye(n_classes)
    return identity_t3cvae(n=4, n_classes=n_classes, means=means), means


def nearest_mean(images, means):
    distances = torch.cdist(images.reshape(images.shape[0], -1), means)
    return distances.argmin(dim=1)


def latents(sampler, num_samples, seed, **kwargs):
    """Draw through ``sample`` and the identity decoder, and return the latents as float64, shape (N, m)."""
    images = sampler.sample(num_samples, batch_size=num_samples, seed=seed, **kwargs)
    return images.reshape(num_samples, -1).double()


# ---------------------------------------------------------------------------------------------
# Reference values computed by hand


def hand_tau_sq(nu, n, sigma=1.0):
    """tau^2 = nu / (nu + n) * tau_b^2, with tau_b^2 from the t normaliser C_{nu,n} in log space."""
    log_c = special.gammaln((nu + n) / 2) - special.gammaln(nu / 2) - n / 2 * np.log(nu * np.pi)
    log_b = log_c - n * np.log(sigma) - np.log(1 + n / (nu - 2))
    tau_b_sq = np.exp(2 / (nu + n - 2) * log_b)
    return nu / (nu + n) * tau_b_sq


def t_variance(tau, df):
    """Variance of one coordinate of t_m(mu, tau^2 I, df)."""
    return tau**2 * df / (df - 2)


def relative_error(value, expected):
    return abs(value / expected - 1)


# ---------------------------------------------------------------------------------------------
# Class frequencies and targeted generation


def test_labels_uniform():
    n_classes, num_samples = 5, 20_000
    sampler = ClassMixtureSampler(separated_t3cvae(n_classes)[0])
    _, labels = sampler.sample(num_samples, seed=11, return_gen=False, return_labels=True)
    counts = np.bincount(labels.numpy(), minlength=n_classes)

    assert counts.sum() == num_samples
    assert stats.chisquare(counts).pvalue > 1e-3
    sigma = math.sqrt(0.2 * 0.8 / num_samples)
    for frequency in counts / num_samples:
        assert abs(frequency - 0.2) < 5 * sigma


def test_labels_uniform_conv_model():
    sampler = ClassMixtureSampler(conv8_t3cvae(n_classes=5))
    images, labels = sampler.sample(5_000, seed=2, return_labels=True)
    counts = np.bincount(labels.numpy(), minlength=5)

    assert images.shape == (5_000, 1, 8, 8)
    assert stats.chisquare(counts).pvalue > 1e-3


def test_labels_follow_weights():
    weights, num_samples = [4.0, 1.0, 0.0, 0.0, 5.0], 20_000
    config = ClassMixtureSamplerConfig(weights=weights)
    sampler = ClassMixtureSampler(separated_t3cvae(5)[0], config)
    _, labels = sampler.sample(num_samples, seed=12, return_gen=False, return_labels=True)
    counts = np.bincount(labels.numpy(), minlength=5)

    assert counts[2] == 0
    assert counts[3] == 0
    drawn = counts[[0, 1, 4]]
    assert stats.chisquare(drawn, num_samples * np.array([0.4, 0.1, 0.5])).pvalue > 1e-3
    # The same counts reject equal weights, so the check above has power.
    assert stats.chisquare(drawn).pvalue < 1e-6


def test_class_id_only_that_class():
    model, means = separated_t3cvae(5)
    sampler = ClassMixtureSampler(model, ClassMixtureSamplerConfig(tau=0.1))
    images, labels = sampler.sample(200, seed=3, class_id=3, return_labels=True)

    assert torch.all(labels == 3)
    assert torch.all(nearest_mean(images, means) == 3)


@pytest.mark.parametrize("as_list", [False, True])
def test_labels_per_sample(as_list):
    model, means = separated_t3cvae(5)
    sampler = ClassMixtureSampler(model, ClassMixtureSamplerConfig(tau=0.1))
    requested = torch.tensor([4, 0, 0, 2, 1, 3, 3, 3, 0, 4, 2, 1])
    labels_in = requested.tolist() if as_list else requested
    images, labels = sampler.sample(12, seed=4, labels=labels_in, return_labels=True)

    assert torch.equal(labels.cpu(), requested)
    assert torch.equal(nearest_mean(images, means), requested)


def test_class_id_numpy_integer():
    model, means = separated_t3cvae(5)
    sampler = ClassMixtureSampler(model, ClassMixtureSamplerConfig(tau=0.1))
    for class_id in np.unique(np.array([1, 4])):
        images, labels = sampler.sample(np.int64(5), seed=0, class_id=class_id, return_labels=True)
        assert torch.all(labels == int(class_id))
        assert images.shape[0] == 5


# ---------------------------------------------------------------------------------------------
# Latent distribution of one component


@pytest.mark.parametrize("n", [2, 3, 4])
def test_t3cvae_component_moments(n):
    nu, tau, y = 3.0, 0.8, 1
    df = nu + n
    sampler = ClassMixtureSampler(identity_t3cvae(n, nu), ClassMixtureSamplerConfig(tau=tau))
    generator = torch.Generator().manual_seed(100 + n)
    labels = torch.full((N_DRAWS,), y)
    z = sampler.draw_latents(labels, N_DRAWS, generator).double()

    expected_var = t_variance(tau, df)
    mean = z.mean(dim=0)
    centred = z - MEANS[y].double()
    cov = centred.T @ centred / N_DRAWS
    variances = torch.diagonal(cov)
    off_diagonal = cov - torch.diag(variances)

    assert torch.all((mean - MEANS[y]).abs() < 5 * math.sqrt(expected_var / N_DRAWS))
    # Relative standard error of a t variance estimate: sqrt((kurtosis - 1) / N) < 0.7% here.
    assert torch.all((variances / expected_var - 1).abs() < 0.05)
    # tau^2 I alone, the Gaussian-style covariance, is 40% to 67% off and is rejected.
    assert torch.all((variances / tau**2 - 1).abs() > 0.05)
    assert off_diagonal.abs().max() < 0.05 * expected_var


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_t3cvae_component_tails(n):
    nu, tau, y = 3.0, 0.8, 2
    df = nu + n
    sampler = ClassMixtureSampler(identity_t3cvae(n, nu), ClassMixtureSamplerConfig(tau=tau))
    z = latents(sampler, N_DRAWS, seed=200 + n, class_id=y)
    standardised = ((z[:, 0] - MEANS[y, 0]) / tau).numpy()
    same_variance_normal = stats.norm(scale=math.sqrt(df / (df - 2)))

    assert stats.kstest(standardised, stats.t(df).cdf).pvalue > 1e-3
    assert stats.kstest(standardised, same_variance_normal.cdf).pvalue < 1e-6

    # Beyond 4 standard deviations, t(df) has about 30 to 80 times the Gaussian mass for df = 4 to 7.
    threshold = 4 * same_variance_normal.std()
    beyond = int((np.abs(standardised) > threshold).sum())
    assert stats.binomtest(beyond, N_DRAWS, 2 * stats.t(df).sf(threshold)).pvalue > 1e-3
    assert stats.binomtest(beyond, N_DRAWS, 2 * stats.norm.sf(4)).pvalue < 1e-6


@pytest.mark.parametrize("n", [2, 4])
def test_t3cvae_component_kurtosis(n):
    sampler = ClassMixtureSampler(identity_t3cvae(n, 3.0), ClassMixtureSamplerConfig(tau=0.8))
    z = latents(sampler, N_DRAWS, seed=300 + n, class_id=0)
    excess_kurtosis = stats.kurtosis(z[:, 1].numpy())

    # A Gaussian sample of this size has excess kurtosis 0 with standard error sqrt(24 / N) = 0.011.
    assert excess_kurtosis > 10 * math.sqrt(24 / N_DRAWS)


def test_t3cvae_shared_chi_square():
    """|z - mu_y|^2 / (m tau^2) follows F(m, df) only if all coordinates share one chi-square draw."""
    n, nu, tau, y = 2, 3.0, 0.8, 0
    df, m = nu + n, MEANS.shape[1]
    sampler = ClassMixtureSampler(identity_t3cvae(n, nu), ClassMixtureSamplerConfig(tau=tau))
    z = latents(sampler, N_DRAWS, seed=400, class_id=y)
    radius = (((z - MEANS[y].double()) / tau) ** 2).sum(dim=1).numpy() / m

    assert stats.kstest(radius, stats.f(m, df).cdf).pvalue > 1e-3
    # Independent univariate t coordinates fail the same check.
    independent = stats.t(df).rvs(size=(N_DRAWS, m), random_state=np.random.default_rng(0))
    assert stats.kstest((independent**2).sum(axis=1) / m, stats.f(m, df).cdf).pvalue < 1e-6


def test_t3sampler_latents():
    n, nu = 2, 3.0
    df = nu + n
    tau = math.sqrt(hand_tau_sq(nu, n))
    sampler = T3Sampler(identity_t3vae(n, nu))
    z = latents(sampler, N_DRAWS, seed=500)
    expected_var = t_variance(tau, df)

    assert torch.all(z.mean(dim=0).abs() < 5 * math.sqrt(expected_var / N_DRAWS))
    assert torch.all((z.var(dim=0) / expected_var - 1).abs() < 0.05)
    assert torch.all((z.var(dim=0) / tau**2 - 1).abs() > 0.05)
    assert stats.kstest(z[:, 0].numpy() / tau, stats.t(df).cdf).pvalue > 1e-3


def test_cvae_component_gaussian():
    y = 2
    sampler = ClassMixtureSampler(identity_cvae())
    z = latents(sampler, N_DRAWS, seed=600, class_id=y)
    centred = z - MEANS[y].double()

    assert torch.all(centred.mean(dim=0).abs() < 5 / math.sqrt(N_DRAWS))
    # Relative standard error of a Gaussian variance estimate: sqrt(2 / N) = 0.3%.
    assert torch.all((centred.var(dim=0) - 1).abs() < 0.02)
    assert stats.kstest(centred[:, 0].numpy(), stats.norm.cdf).pvalue > 1e-3
    assert abs(stats.kurtosis(centred[:, 0].numpy())) < 5 * math.sqrt(24 / N_DRAWS)


def test_cvae_explicit_tau_scale():
    sampler = ClassMixtureSampler(identity_cvae(), ClassMixtureSamplerConfig(tau=0.3))
    z = latents(sampler, 50_000, seed=601, class_id=0)

    assert torch.all(((z - MEANS[0].double()).var(dim=0) / 0.09 - 1).abs() < 0.05)


def test_draw_latents_mixed_labels():
    sampler = ClassMixtureSampler(identity_cvae(), ClassMixtureSamplerConfig(tau=0.01))
    labels = torch.tensor([2, 0, 1, 1, 0, 2])
    z = sampler.draw_latents(labels, 6, torch.Generator().manual_seed(0))

    assert z.shape == (6, 3)
    assert torch.allclose(z, MEANS[labels], atol=0.1)


# ---------------------------------------------------------------------------------------------
# The theoretical tau


@pytest.mark.parametrize("nu, input_dim, sigma", [(10.0, (1, 8, 8), 1.0), (3.0, (2,), 1.0), (5.5, (3, 4, 4), 0.5)])
def test_t3sampler_default_tau(nu, input_dim, sigma):
    n = int(np.prod(input_dim))
    model = T3VAE(T3VAEConfig(input_dim=input_dim, latent_dim=4, nu=nu, sigma=sigma))
    sampler = T3Sampler(model)

    assert relative_error(sampler.tau, math.sqrt(hand_tau_sq(nu, n, sigma))) < 1e-9


@pytest.mark.parametrize("nu, input_dim, sigma", [(10.0, (1, 8, 8), 1.0), (3.0, (2,), 1.0), (5.5, (3, 4, 4), 2.0)])
def test_mixture_default_tau(nu, input_dim, sigma):
    n = int(np.prod(input_dim))
    config = T3CVAEConfig(input_dim=input_dim, latent_dim=4, nu=nu, sigma=sigma, n_classes=3)
    sampler = ClassMixtureSampler(T3CVAE(config))

    assert relative_error(sampler.tau, math.sqrt(hand_tau_sq(nu, n, sigma))) < 1e-9


def test_tau_cifar_magnitude():
    """The documented magnitude: nu = 10, n = 3072 (32 x 32 RGB) gives tau^2 of about 0.0589."""
    model = T3VAE(T3VAEConfig(input_dim=(3, 32, 32), latent_dim=64, nu=10.0))
    tau_sq = T3Sampler(model).tau ** 2

    assert abs(tau_sq - 0.0589) < 5e-4
    assert relative_error(tau_sq, hand_tau_sq(10.0, 3072)) < 1e-9


def test_explicit_tau_overrides():
    t3vae = identity_t3vae(n=2)
    t3cvae = identity_t3cvae(n=2)

    assert T3Sampler(t3vae, T3SamplerConfig(tau=0.37)).tau == 0.37
    assert ClassMixtureSampler(t3cvae, ClassMixtureSamplerConfig(tau=0.37)).tau == 0.37
    assert ClassMixtureSampler(identity_cvae(), ClassMixtureSamplerConfig(tau=0.37)).tau == 0.37


def test_cvae_default_tau_one():
    assert ClassMixtureSampler(identity_cvae()).tau == 1.0


# ---------------------------------------------------------------------------------------------
# Seeds and batch sizes


def test_mixture_batch_size_invariant():
    sampler = ClassMixtureSampler(identity_t3cvae(n=3))
    images_a, labels_a = sampler.sample(50, batch_size=7, seed=3, return_labels=True)
    images_b, labels_b = sampler.sample(50, batch_size=50, seed=3, return_labels=True)

    assert torch.equal(labels_a, labels_b)
    assert torch.equal(images_a, images_b)


def test_t3sampler_batch_size_invariant():
    sampler = T3Sampler(identity_t3vae(n=3))
    images_a = sampler.sample(50, batch_size=1, seed=3)
    images_b = sampler.sample(50, batch_size=33, seed=3)

    assert torch.equal(images_a, images_b)


def test_conv_batch_size_invariant():
    """A conv decoder changes the float rounding with the batch size, but not the latents or labels."""
    sampler = ClassMixtureSampler(conv8_t3cvae())
    images_a, labels_a = sampler.sample(50, batch_size=7, seed=3, return_labels=True)
    images_b, labels_b = sampler.sample(50, batch_size=50, seed=3, return_labels=True)

    assert torch.equal(labels_a, labels_b)
    assert torch.allclose(images_a, images_b, rtol=0, atol=1e-6)


def test_seeds_differ():
    sampler = ClassMixtureSampler(identity_t3cvae(n=3))
    images_a, labels_a = sampler.sample(50, seed=1, return_labels=True)
    images_b, labels_b = sampler.sample(50, seed=2, return_labels=True)

    assert not torch.equal(images_a, images_b)
    assert not torch.equal(labels_a, labels_b)


def test_seed_ignores_global_rng():
    sampler = ClassMixtureSampler(identity_t3cvae(n=3))
    torch.manual_seed(0)
    images_a = sampler.sample(20, seed=9)
    torch.manual_seed(1)
    images_b = sampler.sample(20, seed=9)

    assert torch.equal(images_a, images_b)


def test_generator_reproducible():
    sampler = ClassMixtureSampler(identity_t3cvae(n=3))
    generator = torch.Generator().manual_seed(21)
    first, first_labels = sampler.sample(30, generator=generator, return_labels=True)
    second = sampler.sample(30, generator=generator)
    again, again_labels = sampler.sample(30, generator=torch.Generator().manual_seed(21), return_labels=True)

    assert torch.equal(first, again)
    assert torch.equal(first_labels, again_labels)
    # The generator's state advances between calls.
    assert not torch.equal(first, second)


def test_t3sampler_seeds_differ():
    sampler = T3Sampler(identity_t3vae(n=3))

    assert torch.equal(sampler.sample(10, seed=5), sampler.sample(10, seed=5))
    assert not torch.equal(sampler.sample(10, seed=5), sampler.sample(10, seed=6))


# ---------------------------------------------------------------------------------------------
# PNG files and manifest


def read_manifest(output_dir):
    with open(os.path.join(output_dir, "manifest.csv"), newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        return header, [dict(zip(header, row)) for row in reader]


def read_png(path):
    with Image.open(path) as image:
        return image.mode, np.array(image)


def png_files(output_dir):
    found = set()
    for root, _, names in os.walk(output_dir):
        for name in names:
            if name.endswith(".png"):
                found.add(os.path.relpath(os.path.join(root, name), output_dir))
    return found


def expected_pixels(image):
    """round(clamp(x, 0, 1) * 255) of one (C, H, W) image, as (H, W) or (H, W, 3) uint8."""
    array = np.round(np.clip(image.numpy(), 0.0, 1.0) * 255.0).astype(np.uint8)
    return array[0] if array.shape[0] == 1 else np.moveaxis(array, 0, -1)


# Decoder values and their bytes by hand: clamped, rounded, never floored or wrapped around.
# 2^-8 * 255 = 0.996 -> 1, 0.25 * 255 = 63.75 -> 64, 0.5 * 255 = 127.5 -> 128, 0.999 * 255 = 254.7 -> 255.
PATTERN = [-0.2, 0.0, 0.00390625, 0.25, 0.5, 0.75, 0.998, 0.999, 1.2]
PATTERN_BYTES = [0, 0, 1, 64, 128, 191, 254, 255, 255]


@pytest.mark.parametrize("channels, mode", [(1, "L"), (3, "RGB")])
def test_png_clamp_and_round(tmp_path, channels, mode):
    values = np.stack([np.roll(PATTERN, c) for c in range(channels)]).reshape(channels, 3, 3)
    expected = np.stack([np.roll(PATTERN_BYTES, c) for c in range(channels)]).reshape(channels, 3, 3)
    expected = expected[0] if channels == 1 else np.moveaxis(expected, 0, -1)
    config = T3CVAEConfig(input_dim=(channels, 3, 3), latent_dim=2, n_classes=3)
    model = T3CVAE(config, decoder=ConstantImage(values))
    sampler = ClassMixtureSampler(model)

    images, labels = sampler.sample(6, batch_size=4, seed=1, output_dir=str(tmp_path), return_labels=True)
    _, rows = read_manifest(tmp_path)

    assert len(rows) == 6
    for i, row in enumerate(rows):
        image_mode, pixels = read_png(tmp_path / row["file"])
        assert image_mode == mode
        assert pixels.dtype == np.uint8
        assert np.array_equal(pixels, expected)
        assert np.array_equal(pixels, expected_pixels(images[i]))


def test_files_and_manifest(tmp_path):
    sampler = ClassMixtureSampler(conv8_t3cvae(n_classes=5))
    images, labels = sampler.sample(30, batch_size=7, seed=5, output_dir=str(tmp_path), return_labels=True)
    header, rows = read_manifest(tmp_path)

    assert header == ["file", "class", "seed", "tau"]
    assert len(rows) == 30
    assert png_files(tmp_path) == {row["file"] for row in rows}
    for i, row in enumerate(rows):
        label = int(labels[i])
        assert row["file"] == f"class_{label:03d}/{i:08d}.png"
        assert row["class"] == str(label)
        assert row["seed"] == "5"
        assert relative_error(float(row["tau"]), math.sqrt(hand_tau_sq(10.0, 64))) < 1e-8
        mode, pixels = read_png(tmp_path / row["file"])
        assert mode == "L"
        assert np.array_equal(pixels, expected_pixels(images[i]))


def test_cvae_manifest_tau(tmp_path):
    sampler = ClassMixtureSampler(identity_cvae(), ClassMixtureSamplerConfig(tau=0.25))
    sampler.sample(4, seed=0, output_dir=str(tmp_path))
    _, rows = read_manifest(tmp_path)

    assert [float(row["tau"]) for row in rows] == [0.25] * 4


def test_t3sampler_files(tmp_path):
    model = T3VAE(T3VAEConfig(input_dim=(3, 3, 3), latent_dim=2), decoder=ConstantImage(np.full((3, 3, 3), 0.5)))
    sampler = T3Sampler(model)
    sampler.sample(3, seed=7, output_dir=str(tmp_path), save_sampler_config=True)
    _, rows = read_manifest(tmp_path)

    assert [row["file"] for row in rows] == ["00000000.png", "00000001.png", "00000002.png"]
    assert [row["class"] for row in rows] == ["", "", ""]
    assert png_files(tmp_path) == {row["file"] for row in rows}
    assert read_png(tmp_path / "00000002.png")[0] == "RGB"
    assert os.path.isfile(tmp_path / "sampler_config.json")


# ---------------------------------------------------------------------------------------------
# pythae pipelines and samplers on models trained for one epoch


@pytest.fixture(scope="module")
def digits():
    """sklearn's 8 x 8 digits scaled to [0, 1] (max exactly 1), with their labels."""
    data = load_digits()
    images = torch.tensor(data.images / 16.0, dtype=torch.float32).unsqueeze(1)
    return images, torch.tensor(data.target)


def train_one_epoch(model, digits, output_dir):
    images, labels = digits
    config = BaseTrainerConfig(output_dir=str(output_dir), num_epochs=1, per_device_train_batch_size=128)
    TrainingPipeline(model=model, training_config=config)(train_data=BaseDataset(images, labels))
    return model


@pytest.fixture(scope="module")
def trained_t3cvae(digits, tmp_path_factory):
    config = T3CVAEConfig(
        input_dim=(1, 8, 8), latent_dim=4, n_classes=10, network="conv8", network_width=0.25,
        class_counts=class_counts(digits[1], 10),
    )
    return train_one_epoch(T3CVAE(config), digits, tmp_path_factory.mktemp("t3cvae"))


@pytest.fixture(scope="module")
def trained_t3vae(digits, tmp_path_factory):
    config = T3VAEConfig(input_dim=(1, 8, 8), latent_dim=4, network="conv8", network_width=0.25)
    return train_one_epoch(T3VAE(config), digits, tmp_path_factory.mktemp("t3vae"))


def test_pipeline_class_mixture(trained_t3cvae, tmp_path):
    pipeline = GenerationPipeline(model=trained_t3cvae, sampler_config=ClassMixtureSamplerConfig())
    images = pipeline(num_samples=40, batch_size=16, output_dir=str(tmp_path), save_sampler_config=True)
    _, rows = read_manifest(tmp_path)

    assert isinstance(pipeline.sampler, ClassMixtureSampler)
    assert images.shape == (40, 1, 8, 8)
    assert torch.isfinite(images).all()
    assert images.min() >= 0
    assert images.max() <= 1
    assert len(rows) == 40
    assert os.path.isfile(tmp_path / "sampler_config.json")


def test_pipeline_t3sampler(trained_t3vae, tmp_path):
    pipeline = GenerationPipeline(model=trained_t3vae, sampler_config=T3SamplerConfig(tau=0.5))
    images = pipeline(num_samples=25, batch_size=10, output_dir=str(tmp_path))
    _, rows = read_manifest(tmp_path)

    assert isinstance(pipeline.sampler, T3Sampler)
    assert pipeline.sampler.tau == 0.5
    assert images.shape == (25, 1, 8, 8)
    assert torch.isfinite(images).all()
    assert len(rows) == 25


def test_pythae_normal_sampler(trained_t3cvae, trained_t3vae):
    for model in (trained_t3cvae, trained_t3vae):
        images = NormalSampler(model).sample(num_samples=12, batch_size=5)
        assert images.shape == (12, 1, 8, 8)
        assert torch.isfinite(images).all()


def test_pythae_gmm_sampler(trained_t3cvae, digits):
    sampler = GaussianMixtureSampler(trained_t3cvae, GaussianMixtureSamplerConfig(n_components=3))
    sampler.fit(train_data=digits[0])
    images = sampler.sample(num_samples=12, batch_size=5)

    assert images.shape == (12, 1, 8, 8)
    assert torch.isfinite(images).all()


# ---------------------------------------------------------------------------------------------
# Device


def test_sampling_stays_on_cpu(monkeypatch, tmp_path):
    """Even where CUDA looks available, a CPU model is sampled on the CPU and stays there."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    t3cvae, t3vae = conv8_t3cvae(), T3VAE(T3VAEConfig(input_dim=(1, 8, 8), latent_dim=4, network="conv8"))

    mixture = GenerationPipeline(model=t3cvae, sampler_config=ClassMixtureSamplerConfig()).sampler
    images, labels = mixture.sample(8, seed=0, return_labels=True, output_dir=str(tmp_path))
    t3_images = T3Sampler(t3vae).sample(8, seed=0)

    for model in (t3cvae, t3vae):
        assert all(p.device.type == "cpu" for p in model.parameters())
    assert mixture.device.type == "cpu"
    assert images.device.type == "cpu"
    assert labels.device.type == "cpu"
    assert t3_images.device.type == "cpu"


# ---------------------------------------------------------------------------------------------
# Invalid input


@pytest.mark.parametrize(
    "make_config, match",
    [
        (lambda: ClassMixtureSamplerConfig(weights=[1.0, -2.0, 1.0]), r"-2\.0"),
        (lambda: ClassMixtureSamplerConfig(weights=[0.0, 0.0, 0.0]), r"positive.*\[0\.0, 0\.0, 0\.0\]"),
        (lambda: ClassMixtureSamplerConfig(weights=[1.0, float("nan")]), "nan"),
        (lambda: ClassMixtureSamplerConfig(tau=0.0), "tau=0.0"),
        (lambda: ClassMixtureSamplerConfig(tau=-1.5), "tau=-1.5"),
        (lambda: ClassMixtureSamplerConfig(tau=float("inf")), "tau=inf"),
        (lambda: T3SamplerConfig(tau=0.0), "tau=0.0"),
        (lambda: T3SamplerConfig(tau=-0.2), "tau=-0.2"),
    ],
)
def test_config_rejects(make_config, match):
    with pytest.raises(ValueError, match=match):
        make_config()


def test_weights_wrong_length():
    config = ClassMixtureSamplerConfig(weights=[1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"n_classes=5.*got 3"):
        ClassMixtureSampler(separated_t3cvae(5)[0], config)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_samples=4, class_id=5), "class_id=5"),
        (dict(num_samples=4, class_id=-1), "class_id=-1"),
        (dict(num_samples=2, labels=[0, 5]), r"\b5\b"),
        (dict(num_samples=2, labels=[-1, 0]), "-1"),
        (dict(num_samples=3, labels=[0, 1]), r"2 labels.*3 samples"),
        (dict(num_samples=2, labels=[0.5, 1]), "0.5"),
        (dict(num_samples=2, class_id=1, labels=[0, 1]), "class_id or labels"),
        (dict(num_samples=0), "num_samples=0"),
        (dict(num_samples=-3), "num_samples=-3"),
        (dict(num_samples=2.5), "num_samples=2.5"),
        (dict(num_samples=True), "num_samples=True"),
        (dict(num_samples=4, batch_size=0), "batch_size=0"),
        (dict(num_samples=4, seed=1, generator=torch.Generator()), "seed or generator"),
        (dict(num_samples=4, save_sampler_config=True), "output_dir"),
    ],
)
def test_sample_rejects(kwargs, match):
    sampler = ClassMixtureSampler(separated_t3cvae(5)[0])
    with pytest.raises(ValueError, match=match):
        sampler.sample(**kwargs)


@pytest.mark.parametrize("kwargs", [dict(class_id=0), dict(labels=[0, 1])])
def test_t3sampler_rejects_classes(kwargs):
    sampler = T3Sampler(identity_t3vae(n=2))
    with pytest.raises(ValueError, match="unconditional"):
        sampler.sample(2, **kwargs)


@pytest.mark.parametrize(
    "sampler_cls, make_model, match",
    [
        (T3Sampler, identity_cvae, "got a CVAE"),
        (T3Sampler, lambda: identity_t3cvae(n=2), "got a T3CVAE"),
        (ClassMixtureSampler, lambda: identity_t3vae(n=2), "got a T3VAE"),
        (ClassMixtureSampler, lambda: VAE(VAEConfig(input_dim=(1, 8, 8), latent_dim=2)), "got a VAE"),
    ],
)
def test_wrong_model_kind(sampler_cls, make_model, match):
    with pytest.raises(ValueError, match=match):
        sampler_cls(make_model())


def test_pipeline_wrong_model_kind():
    with pytest.raises(ValueError, match="got a T3VAE"):
        GenerationPipeline(model=identity_t3vae(n=2), sampler_config=ClassMixtureSamplerConfig())


# ---------------------------------------------------------------------------------------------
# The device check script, on the CPU here (about 30 s, so marked slow)


@pytest.mark.slow
def test_gpu_check_script():
    script = os.path.join(os.path.dirname(__file__), os.pardir, "scripts", "gpu_check.py")
    result = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=600)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "all checks passed" in result.stdout
    assert "[FAIL]" not in result.stdout
