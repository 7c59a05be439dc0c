"""Small CNN classifier whose penultimate features feed the per-class metrics.

The network has three blocks of 3 x 3 convolution, BatchNorm, ReLU and 2 x 2 max pooling, with
``width``, 2 ``width`` and 4 ``width`` channels. Pooling uses ``ceil_mode``, so 8 x 8 inputs reach
1 x 1. A global average pool follows, then a linear layer to ``feature_dim`` with ReLU (the
features) and a linear layer to the class logits. Any input of at least 8 x 8 pixels works: 8 x 8 digits,
28 x 28, 32 x 32 and 64 x 64 images.

Training data should be class-balanced, so that the features do not favour head classes.
Dataset items are pythae ``DatasetOutput(data=..., labels=...)`` or ``(image, label)`` pairs, with
images float (C, H, W) in [0, 1] and integer labels (whole-number floats are accepted, as pythae's
``BaseDataset`` stores labels as floats).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Optional, Union

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

logger = logging.getLogger(__name__)

MIN_IMAGE_SIZE = 8
# Heuristic: a max/min class-count ratio above this suggests the training set was not balanced.
IMBALANCE_WARNING_RATIO = 1.5

PathLike = Union[str, Path]


class SmallCNN(nn.Module):
    """Image classifier with a ``features`` method for its penultimate activations."""

    def __init__(self, in_channels: int, n_classes: int, width: int = 32, feature_dim: int = 128):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("n_classes", n_classes), ("width", width), ("feature_dim", feature_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if n_classes < 2:
            raise ValueError(f"n_classes must be >= 2 for a classifier, got {n_classes}")
        self.config = {"in_channels": in_channels, "n_classes": n_classes, "width": width, "feature_dim": feature_dim}

        blocks = []
        channels = in_channels
        for multiplier in (1, 2, 4):
            blocks += [
                nn.Conv2d(channels, width * multiplier, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(width * multiplier),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2, ceil_mode=True),
            ]
            channels = width * multiplier
        self.body = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.embedding = nn.Sequential(nn.Linear(channels, feature_dim), nn.ReLU(inplace=True))
        self.head = nn.Linear(feature_dim, n_classes)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Return penultimate features (N, feature_dim) of images (N, C, H, W) in [0, 1]."""
        # Centre the pixel range. BatchNorm takes care of the scale.
        return self.embedding(self.body(images - 0.5))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


def _item_to_pair(item) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(item, Mapping):
        if "data" not in item or "labels" not in item:
            raise ValueError(f"dataset items that are mappings need the keys 'data' and 'labels', got {list(item.keys())}")
        image, label = item["data"], item["labels"]
    elif isinstance(item, (tuple, list)) and len(item) == 2:
        image, label = item
    else:
        raise ValueError(
            f"dataset items must be DatasetOutput(data=..., labels=...) or (image, label) pairs, got {type(item).__name__}"
        )
    return torch.as_tensor(image), torch.as_tensor(label)


def _as_long_labels(labels: torch.Tensor) -> torch.Tensor:
    if labels.is_floating_point():
        if not bool((labels == labels.round()).all()):
            raise ValueError("dataset labels must be whole numbers, got non-integer float labels")
        labels = labels.round()
    labels = labels.long()
    if labels.numel() > 0 and int(labels.min()) < 0:
        raise ValueError(f"dataset labels must be >= 0, got minimum {int(labels.min())}")
    return labels


def _collate_pairs(items) -> tuple[torch.Tensor, torch.Tensor]:
    pairs = [_item_to_pair(item) for item in items]
    images = torch.stack([image for image, _ in pairs]).float()
    labels = torch.stack([label.reshape(()) for _, label in pairs])
    return images, _as_long_labels(labels)


def _validate_image_batch(images: torch.Tensor, name: str) -> None:
    if images.dim() != 4:
        raise ValueError(f"{name} must have shape (N, C, H, W), got shape {tuple(images.shape)}")
    if min(images.shape[2], images.shape[3]) < MIN_IMAGE_SIZE:
        raise ValueError(f"{name} must be at least {MIN_IMAGE_SIZE} x {MIN_IMAGE_SIZE} pixels, got shape {tuple(images.shape)}")


def _scan_dataset(dataset: Dataset) -> tuple[int, torch.Tensor]:
    image, _ = _item_to_pair(dataset[0])
    if image.dim() != 3:
        raise ValueError(f"dataset images must have shape (C, H, W), got shape {tuple(image.shape)}")
    # pythae's BaseDataset stores all labels in one tensor. Other datasets are read item by item.
    stored = getattr(dataset, "labels", None)
    if isinstance(stored, torch.Tensor) and stored.shape[:1] == (len(dataset),):
        labels = stored.reshape(len(dataset))
    else:
        labels = torch.stack([_item_to_pair(dataset[index])[1].reshape(()) for index in range(len(dataset))])
    return image.shape[0], _as_long_labels(labels)


def _warn_if_imbalanced(labels: torch.Tensor, n_classes: int) -> None:
    counts = torch.bincount(labels, minlength=n_classes)
    if int(counts.min()) == 0 or int(counts.max()) > IMBALANCE_WARNING_RATIO * int(counts.min()):
        warnings.warn(
            f"classifier training set is imbalanced (class counts {counts.tolist()}); features trained on "
            "imbalanced data favour head classes, so pass a class-balanced dataset",
            stacklevel=3,
        )


def train_classifier(
    dataset: Dataset,
    n_classes: Optional[int] = None,
    epochs: int = 10,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    weight_decay: float = 5e-4,
    seed: int = 0,
    device: Union[str, torch.device] = "cpu",
    width: int = 32,
    feature_dim: int = 128,
) -> SmallCNN:
    """Train a :class:`SmallCNN` with AdamW and cross-entropy, and return it in eval mode on ``device``.

    ``n_classes`` defaults to 1 + the largest label. ``seed`` fixes the initial weights and the
    shuffling, without touching the global random state.

    NOTE: on CUDA, cuDNN kernels may be non-deterministic, so runs with one seed can differ slightly.
    """
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if len(dataset) == 0:
        raise ValueError("dataset is empty")
    device = torch.device(device)

    in_channels, labels = _scan_dataset(dataset)
    if n_classes is None:
        n_classes = int(labels.max()) + 1
    elif int(labels.max()) >= n_classes:
        raise ValueError(f"dataset labels must be in [0, {n_classes - 1}] for n_classes={n_classes}, got {int(labels.max())}")
    _warn_if_imbalanced(labels, n_classes)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SmallCNN(in_channels, n_classes, width, feature_dim).to(device)
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=generator, collate_fn=_collate_pairs)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    loss_function = nn.CrossEntropyLoss()

    for epoch in range(epochs):
        model.train()
        total_loss = 0.0
        for images, targets in loader:
            _validate_image_batch(images, "dataset images")
            images, targets = images.to(device), targets.to(device)
            loss = loss_function(model(images), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * images.shape[0]
        logger.info("classifier epoch %d/%d: mean loss %.4f", epoch + 1, epochs, total_loss / len(dataset))

    return model.eval()


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _map_batches(function, images: torch.Tensor, batch_size: int, device: torch.device) -> torch.Tensor:
    _validate_image_batch(images, "images")
    outputs = []
    with torch.inference_mode():
        for start in range(0, images.shape[0], batch_size):
            outputs.append(function(images[start : start + batch_size].to(device).float()))
    return torch.cat(outputs)


def classifier_features(model: SmallCNN, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Return penultimate features (N, feature_dim) on the model's device; the model must be in eval mode."""
    return _map_batches(model.features, images, batch_size, _model_device(model))


def predict_labels(model: SmallCNN, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Return the predicted class (N,) of each image, on the model's device."""
    return _map_batches(lambda batch: model(batch).argmax(dim=1), images, batch_size, _model_device(model))


def classifier_accuracy(model: SmallCNN, dataset: Dataset, batch_size: int = 256) -> float:
    """Return the fraction of ``dataset`` items that the model classifies correctly."""
    if len(dataset) == 0:
        raise ValueError("dataset is empty")
    device = _model_device(model)
    was_training = model.training
    model.eval()
    correct = 0
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=_collate_pairs)
    with torch.inference_mode():
        for images, targets in loader:
            _validate_image_batch(images, "dataset images")
            predictions = model(images.to(device)).argmax(dim=1)
            correct += int((predictions == targets.to(device)).sum())
    model.train(was_training)
    return correct / len(dataset)


def save_classifier(model: SmallCNN, path: PathLike) -> Path:
    """Write the model's config and state_dict to ``path`` and return the path."""
    path = Path(path)
    torch.save({"config": dict(model.config), "state_dict": model.state_dict()}, path)
    return path


def load_classifier(path: PathLike, device: Union[str, torch.device] = "cpu") -> SmallCNN:
    """Load a model written by :func:`save_classifier`, in eval mode on ``device``.

    Uses ``torch.load(weights_only=True)``, so the file cannot run code when loaded.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"classifier file not found: {str(path)!r}")
    checkpoint = torch.load(path, map_location=device, weights_only=True)
    if not isinstance(checkpoint, dict) or "config" not in checkpoint or "state_dict" not in checkpoint:
        raise ValueError(f"{str(path)!r} is not a classifier file written by save_classifier (needs 'config' and 'state_dict')")
    model = SmallCNN(**checkpoint["config"])
    model.load_state_dict(checkpoint["state_dict"])
    return model.to(device).eval()
