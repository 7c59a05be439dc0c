"""Tests of generative precision, recall and F1 against the prdc package and hand-computed cases."""

import numpy as np
import pytest
import torch
from prdc import compute_prdc
from scipy.spatial.distance import cdist

from pythae_t3cvae.metrics.precision_recall import f1_score, knn_radii, precision_recall


def _brute_force_closed(real, generated, k):
    """Precision and recall with closed balls, from full distance matrices in float64."""
    real_radii = np.sort(cdist(real, real), axis=1)[:, k]  # column 0 is the point itself
    generated_radii = np.sort(cdist(generated, generated), axis=1)[:, k]
    distances = cdist(real, generated)
    precision = (distances <= real_radii[:, None]).any(axis=0).mean()
    recall = (distances <= generated_radii[None, :]).any(axis=1).mean()
    return precision, recall


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("chunk_size", [7, 64, 100_000])
def test_precision_recall_match_prdc(k, chunk_size):
    rng = np.random.default_rng(k)
    real = rng.normal(size=(300, 16))
    generated = rng.normal(0.3, 1.2, size=(250, 16))

    reference = compute_prdc(real, generated, nearest_k=k)
    result = precision_recall(real, generated, k=k, chunk_size=chunk_size, boundary="open")
    closed = precision_recall(real, generated, k=k, chunk_size=chunk_size)

    assert result["precision"] == pytest.approx(reference["precision"], abs=1e-12)
    assert result["recall"] == pytest.approx(reference["recall"], abs=1e-12)
    # Continuous features have no ties, so closed and open balls agree.
    assert closed["precision"] == result["precision"]
    assert closed["recall"] == result["recall"]
    assert 0.05 < result["precision"] < 0.99
    assert 0.05 < result["recall"] < 0.99


def test_precision_recall_float32_match_prdc():
    rng = np.random.default_rng(10)
    real = rng.normal(size=(400, 32)).astype(np.float32)
    generated = (rng.normal(size=(350, 32)) * 0.8).astype(np.float32)

    reference = compute_prdc(real, generated, nearest_k=3)
    result = precision_recall(torch.from_numpy(real), torch.from_numpy(generated), k=3, chunk_size=100)

    assert result["precision"] == pytest.approx(reference["precision"], abs=1e-12)
    assert result["recall"] == pytest.approx(reference["recall"], abs=1e-12)


def test_boundary_points_on_a_line():
    real = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    generated = np.array([[4.0, 0.0], [6.0, 0.0], [7.0, 0.0]])
    # k = 1: real radii are all 1; generated radii are 2, 1, 1.
    # Closed: generated 4 lies on the ball of real 3 (distance 1); real 3 and real 2 lie in the
    # ball of generated 4 (distances 1 and 2 <= 2). Open balls keep only real 3.

    closed = precision_recall(real, generated, k=1, chunk_size=2)
    opened = precision_recall(real, generated, k=1, chunk_size=2, boundary="open")
    reference = compute_prdc(real, generated, nearest_k=1)

    assert closed["precision"] == pytest.approx(1 / 3)
    assert closed["recall"] == pytest.approx(2 / 4)
    assert opened["precision"] == 0.0
    assert opened["recall"] == pytest.approx(1 / 4)
    assert opened["precision"] == reference["precision"]
    assert opened["recall"] == reference["recall"]


@pytest.mark.parametrize("chunk_size", [16, 1000])
def test_lattice_features_closed_versus_open(chunk_size):
    # Integer features with duplicates put many points exactly on ball surfaces (radius 0 included).
    rng = np.random.default_rng(11)
    real = rng.integers(0, 3, size=(200, 4)).astype(np.float64)
    generated = (rng.integers(0, 3, size=(150, 4)) + (rng.random((150, 4)) < 0.1)).astype(np.float64)

    closed = precision_recall(real, generated, k=3, chunk_size=chunk_size)
    opened = precision_recall(real, generated, k=3, chunk_size=chunk_size, boundary="open")
    reference = compute_prdc(real, generated, nearest_k=3)
    expected_precision, expected_recall = _brute_force_closed(real, generated, k=3)

    assert opened["precision"] == pytest.approx(reference["precision"], abs=1e-12)
    assert opened["recall"] == pytest.approx(reference["recall"], abs=1e-12)
    assert closed["precision"] == pytest.approx(expected_precision, abs=1e-12)
    assert closed["recall"] == pytest.approx(expected_recall, abs=1e-12)
    assert closed["precision"] > opened["precision"]
    assert closed["recall"] > opened["recall"]


def test_lattice_features_float32():
    rng = np.random.default_rng(12)
    real = rng.integers(0, 4, size=(120, 3)).astype(np.float32)
    generated = rng.integers(0, 4, size=(90, 3)).astype(np.float32)

    closed = precision_recall(torch.from_numpy(real), torch.from_numpy(generated), k=2, chunk_size=32)
    expected_precision, expected_recall = _brute_force_closed(real.astype(np.float64), generated.astype(np.float64), 2)

    assert closed["precision"] == pytest.approx(expected_precision, abs=1e-12)
    assert closed["recall"] == pytest.approx(expected_recall, abs=1e-12)


@pytest.mark.parametrize("chunk_size", [5, 50])
def test_knn_radii_match_sorted_distances(chunk_size):
    features = np.random.default_rng(13).normal(size=(40, 6))

    radii = knn_radii(torch.from_numpy(features), k=3, chunk_size=chunk_size)

    expected = np.sort(cdist(features, features), axis=1)[:, 3]
    np.testing.assert_allclose(radii.numpy(), expected, rtol=1e-9)


def test_knn_radii_count_duplicates_as_neighbours():
    features = torch.tensor([[0.0], [0.0], [5.0]])

    radii = knn_radii(features, k=1)

    assert radii.tolist() == [0.0, 0.0, 5.0]


def test_identical_sets_score_one():
    features = np.random.default_rng(14).normal(size=(100, 5))

    result = precision_recall(features, features.copy(), k=3, chunk_size=30)

    assert result["precision"] == 1.0
    assert result["recall"] == 1.0
    assert result["f1"] == 1.0
    assert (result["k"], result["n_real"], result["n_generated"]) == (3, 100, 100)


def test_f1_score_values():
    assert f1_score(0.5, 1.0) == pytest.approx(2 * 0.5 / 1.5)
    assert f1_score(0.0, 0.0) == 0.0
    assert f1_score(1.0, 0.0) == 0.0


def test_disjoint_sets_score_zero():
    real = np.zeros((10, 2)) + np.arange(10)[:, None] * 0.1
    generated = real + 100.0

    result = precision_recall(real, generated, k=2)

    assert (result["precision"], result["recall"], result["f1"]) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"k": 0}, "k must be an int >= 1, got 0"),
        ({"k": 2.5}, "k must be an int >= 1"),
        ({"k": 10}, "real_features needs at least k \\+ 1 = 11 samples"),
        ({"chunk_size": 0}, "chunk_size must be an int >= 1"),
        ({"boundary": "half"}, "boundary must be 'closed'"),
    ],
)
def test_precision_recall_rejects_bad_arguments(kwargs, message):
    rng = np.random.default_rng(15)
    with pytest.raises(ValueError, match=message):
        precision_recall(rng.normal(size=(10, 3)), rng.normal(size=(20, 3)), **kwargs)


def test_precision_recall_rejects_bad_features():
    good = np.zeros((10, 3))
    with pytest.raises(ValueError, match="same feature dimension"):
        precision_recall(good, np.zeros((10, 4)))
    with pytest.raises(ValueError, match="shape \\(N, D\\)"):
        precision_recall(np.zeros(10), good)
    with pytest.raises(ValueError, match="NaN"):
        precision_recall(good, np.full((10, 3), np.nan))
    with pytest.raises(ValueError, match="generated_features needs at least k \\+ 1 = 4"):
        precision_recall(good, np.zeros((3, 3)), k=3)
