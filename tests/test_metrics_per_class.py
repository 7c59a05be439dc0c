"""Tests of per-class precision/recall/F1, class coverage and the feature classifier."""

import math

import numpy as np
import pytest
import torch
from prdc import compute_prdc
from pythae.data.datasets import BaseDataset
from sklearn.datasets import load_digits
from torch.utils.data import TensorDataset

from pythae_t3cvae.metrics.classifier import (
    SmallCNN,
    classifier_accuracy,
    classifier_features,
    load_classifier,
    predict_labels,
    save_classifier,
    train_classifier,
)
from pythae_t3cvae.metrics.per_class import class_coverage, per_class_prf


def _clustered_features(n_per_class=30, n_classes=3, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_classes), n_per_class)
    features = rng.normal(size=(labels.size, dim)) + 50.0 * labels[:, None]
    return torch.from_numpy(features), torch.from_numpy(labels)


# ----------------------------------------------------------------------------------------------
# Per-class precision, recall and F1


def test_generated_copies_of_one_class():
    real, real_labels = _clustered_features()
    class_zero = real[real_labels == 0]
    # The "model" returns real class-0 features whatever class it is asked for.
    generated = torch.cat([class_zero, class_zero, class_zero])
    generated_labels = torch.repeat_interleave(torch.arange(3), class_zero.shape[0])

    result = per_class_prf(real, real_labels, generated, generated_labels, k=3)

    assert result["classes"] == [0, 1, 2]
    assert result["precision"] == [1.0, 0.0, 0.0]
    assert result["recall"] == [1.0, 0.0, 0.0]
    assert result["f1"] == [1.0, 0.0, 0.0]
    assert result["n_real"] == [30, 30, 30]
    assert result["n_generated"] == [30, 30, 30]
    assert result["mean_recall"] == pytest.approx(1 / 3)


def test_per_class_matches_prdc_per_class():
    real, real_labels = _clustered_features(n_per_class=40, seed=1)
    generated, generated_labels = _clustered_features(n_per_class=35, seed=2)
    generated = generated * 1.02

    result = per_class_prf(real, real_labels, generated, generated_labels, k=3, chunk_size=16, boundary="open")

    for label in range(3):
        reference = compute_prdc(
            real[real_labels == label].numpy(), generated[generated_labels == label].numpy(), nearest_k=3
        )
        assert result["precision"][label] == pytest.approx(reference["precision"], abs=1e-12)
        assert result["recall"][label] == pytest.approx(reference["recall"], abs=1e-12)


def test_missing_class_gives_nan_and_warning():
    real, real_labels = _clustered_features()
    generated, generated_labels = real[real_labels < 2], real_labels[real_labels < 2]

    with pytest.warns(UserWarning, match="class 2 has 30 real and 0 generated"):
        result = per_class_prf(real, real_labels, generated, generated_labels.double(), k=3, n_classes=3)

    assert result["precision"][:2] == [1.0, 1.0]
    assert math.isnan(result["precision"][2])
    assert result["mean_precision"] == 1.0


def test_per_class_rejects_bad_labels():
    real, real_labels = _clustered_features()
    with pytest.raises(ValueError, match="one label per row"):
        per_class_prf(real, real_labels[:-1], real, real_labels)
    with pytest.raises(ValueError, match="whole numbers"):
        per_class_prf(real, real_labels + 0.5, real, real_labels)
    with pytest.raises(ValueError, match="labels must be in \\[0, 1\\] for n_classes=2, got 2"):
        per_class_prf(real, real_labels, real, real_labels, n_classes=2)
    with pytest.raises(ValueError, match="k must be an int >= 1, got 0"):
        per_class_prf(real, real_labels, real, real_labels, k=0)


# ----------------------------------------------------------------------------------------------
# Class coverage


def test_coverage_all_mass_on_one_class():
    coverage = class_coverage(torch.full((50,), 3), n_classes=10)

    assert coverage["counts"] == [0, 0, 0, 50, 0, 0, 0, 0, 0, 0]
    assert coverage["distribution"][3] == 1.0
    assert coverage["entropy"] == 0.0
    assert coverage["kl_from_uniform"] == pytest.approx(math.log(10))
    assert coverage["fraction_covered"] == pytest.approx(0.1)
    assert coverage["n_samples"] == 50


def test_coverage_uniform():
    coverage = class_coverage(np.arange(40) % 4, n_classes=4)

    assert coverage["entropy"] == pytest.approx(math.log(4))
    assert coverage["normalized_entropy"] == pytest.approx(1.0)
    assert coverage["kl_from_uniform"] == pytest.approx(0.0, abs=1e-12)
    assert coverage["fraction_covered"] == 1.0


def test_coverage_hand_computed():
    coverage = class_coverage([0, 0, 1, 2], n_classes=4)

    # p = (1/2, 1/4, 1/4, 0): H = 1.5 log 2 and KL(p || U) = log 4 - H = 0.5 log 2.
    assert coverage["distribution"] == [0.5, 0.25, 0.25, 0.0]
    assert coverage["entropy"] == pytest.approx(1.5 * math.log(2))
    assert coverage["kl_from_uniform"] == pytest.approx(0.5 * math.log(2))
    assert coverage["normalized_entropy"] == pytest.approx(0.75)
    assert coverage["fraction_covered"] == 0.75


def test_coverage_rejects_bad_input():
    with pytest.raises(ValueError, match="predicted_labels must be in \\[0, 2\\] for n_classes=3, got 5"):
        class_coverage([0, 5], n_classes=3)
    with pytest.raises(ValueError, match="n_classes must be an int >= 1, got 0"):
        class_coverage([0], n_classes=0)
    with pytest.raises(ValueError, match="empty"):
        class_coverage([], n_classes=3)
    with pytest.raises(ValueError, match=">= 0"):
        class_coverage([-1, 0], n_classes=3)


# ----------------------------------------------------------------------------------------------
# Classifier


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    images = torch.tensor(data.images / 16.0, dtype=torch.float32)[:, None]  # (1797, 1, 8, 8) in [0, 1]
    labels = torch.tensor(data.target)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    train, test = order[:1300], order[1300:]
    return images[train], labels[train], images[test], labels[test]


@pytest.fixture(scope="module")
def digits_classifier(digits):
    train_images, train_labels, _, _ = digits
    # pythae's BaseDataset stores labels as floats; the trainer must accept them.
    dataset = BaseDataset(train_images, train_labels)
    return train_classifier(dataset, epochs=4, batch_size=64, seed=0, width=16, feature_dim=32)


def test_classifier_learns_digits(digits, digits_classifier):
    _, _, test_images, test_labels = digits

    accuracy = classifier_accuracy(digits_classifier, TensorDataset(test_images, test_labels))
    predictions = predict_labels(digits_classifier, test_images)

    # Chance is 0.1 for ten balanced classes.
    assert accuracy > 0.8
    assert accuracy == pytest.approx((predictions == test_labels).double().mean().item())
    assert not digits_classifier.training


def test_classifier_features_feed_per_class_metrics(digits, digits_classifier):
    train_images, train_labels, test_images, test_labels = digits

    real = classifier_features(digits_classifier, test_images)
    generated = classifier_features(digits_classifier, train_images)
    result = per_class_prf(real, test_labels, generated, train_labels, k=3, n_classes=10)

    assert real.shape == (test_images.shape[0], 32)
    # Train and test digits come from one distribution, so every class scores well above 0.
    assert min(result["recall"]) > 0.5
    assert min(result["precision"]) > 0.5


def test_classifier_save_load_roundtrip(digits, digits_classifier, tmp_path):
    _, _, test_images, _ = digits

    path = save_classifier(digits_classifier, tmp_path / "classifier.pt")
    loaded = load_classifier(path)

    assert isinstance(loaded, SmallCNN)
    assert loaded.config == digits_classifier.config
    assert torch.equal(loaded(test_images[:16]), digits_classifier(test_images[:16]))


def test_classifier_seed_reproducible():
    images = torch.rand(64, 3, 16, 16)
    labels = torch.arange(64) % 4
    dataset = TensorDataset(images, labels)

    first = train_classifier(dataset, epochs=1, batch_size=16, seed=3, width=4, feature_dim=8)
    second = train_classifier(dataset, epochs=1, batch_size=16, seed=3, width=4, feature_dim=8)

    assert torch.equal(first(images), second(images))


def test_classifier_warns_on_imbalanced_data():
    labels = torch.tensor([0] * 30 + [1] * 5)
    dataset = TensorDataset(torch.rand(35, 1, 8, 8), labels)

    with pytest.warns(UserWarning, match="imbalanced"):
        train_classifier(dataset, epochs=1, width=4, feature_dim=8)


def test_classifier_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="at least 8 x 8"):
        train_classifier(TensorDataset(torch.rand(4, 1, 4, 4), torch.tensor([0, 1, 0, 1])), epochs=1)
    with pytest.raises(ValueError, match="epochs must be an int >= 1, got 0"):
        train_classifier(TensorDataset(torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 0, 1])), epochs=0)
    with pytest.raises(ValueError, match="\\(image, label\\) pairs"):
        train_classifier([torch.rand(1, 8, 8)], epochs=1)
    with pytest.raises(FileNotFoundError, match="classifier file not found"):
        load_classifier(tmp_path / "missing.pt")
