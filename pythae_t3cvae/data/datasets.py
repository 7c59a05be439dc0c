"""Image datasets in pythae's item format, held in memory as uint8 or read lazily from image files.

Every item is ``DatasetOutput(data=x, labels=y)`` with ``x`` a float32 tensor of shape (C, H, W) in
[0, 1] and ``y`` a 0-dimensional int64 tensor, so the datasets plug into ``pythae``'s
``TrainingPipeline(...)(train_data=dataset)`` and into a ``DataLoader`` with
``pythae.data.datasets.collate_dataset_output``.

The optional horizontal flip (p = 0.5, the only augmentation of the reference protocols) draws from
torch's global random number generator. pythae 0.1.2's trainer seeds it from ``BaseTrainerConfig.seed``, so
flips follow the training seed, and DataLoader worker processes get their own seeds derived from it.
"""

import logging
import os
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from pythae.data.datasets import DatasetOutput
from torch.utils.data import Dataset

logger = logging.getLogger(__name__)

IMAGE_MODES = ("RGB", "L")
SizeLike = Union[int, Tuple[int, int]]


def _pair(value: SizeLike, name: str) -> Tuple[int, int]:
    """Return ``value`` as (height, width)."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and v >= 1 for v in pair):
        raise ValueError(f"{name} must be a positive int or a (height, width) pair, got {value!r}")
    return int(pair[0]), int(pair[1])


def load_image(
    path: str,
    mode: str = "RGB",
    center_crop: Optional[SizeLike] = None,
    size: Optional[SizeLike] = None,
) -> np.ndarray:
    """Decode an image file to a uint8 array of shape (C, H, W).

    ``mode`` is ``"RGB"`` (3 channels) or ``"L"`` (1 channel, greyscale). ``center_crop`` cuts a central
    (height, width) window, its corner at ``(size - crop) // 2``. ``size`` then resizes with PIL's bilinear
    filter, which also smooths (antialiases) when it shrinks an image.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file is not a readable image or is smaller than ``center_crop``.
    """
    if mode not in IMAGE_MODES:
        raise ValueError(f"mode must be one of {IMAGE_MODES}, got {mode!r}")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"image file not found: {path}")

    try:
        with Image.open(path) as image:
            image = image.convert(mode)
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"cannot decode image file {path}: {error}") from error

    if center_crop is not None:
        crop_height, crop_width = _pair(center_crop, "center_crop")
        if image.width < crop_width or image.height < crop_height:
            raise ValueError(
                f"image {path} is {image.width}x{image.height} (width x height), smaller than the "
                f"centre crop {crop_width}x{crop_height}"
            )
        left = (image.width - crop_width) // 2
        top = (image.height - crop_height) // 2
        image = image.crop((left, top, left + crop_width, top + crop_height))

    if size is not None:
        height, width = _pair(size, "size")
        if (image.height, image.width) != (height, width):
            image = image.resize((width, height), resample=Image.BILINEAR)

    pixels = np.array(image, dtype=np.uint8)  # A copy: torch warns on read-only arrays.
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))


def decode_images(
    paths: Sequence[str],
    mode: str = "RGB",
    center_crop: Optional[SizeLike] = None,
    size: Optional[SizeLike] = None,
) -> np.ndarray:
    """Decode image files once into one uint8 array of shape (N, C, H, W), with ``load_image``'s options.

    Raises:
        ValueError: if a file cannot be decoded or its shape differs from the first file's; pass
            ``size`` to resize images of mixed sizes.
    """
    if len(paths) == 0:
        raise ValueError("paths is empty: there are no images to decode")
    first = load_image(paths[0], mode, center_crop, size)
    images = np.empty((len(paths), *first.shape), dtype=np.uint8)
    images[0] = first
    for position, path in enumerate(paths[1:], start=1):
        pixels = load_image(path, mode, center_crop, size)
        if pixels.shape != first.shape:
            raise ValueError(
                f"image {path} decodes to shape {pixels.shape} (C, H, W) but {paths[0]} to "
                f"{first.shape}; pass size=(height, width) to resize all images to one size"
            )
        images[position] = pixels
    return images


def _check_labels(labels, n_items: int, class_names: Sequence[str]) -> torch.Tensor:
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    if labels.ndim != 1 or labels.numel() != n_items:
        raise ValueError(f"expected {n_items} labels in a 1-D sequence, got shape {tuple(labels.shape)}")
    if n_items and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise ValueError(
            f"labels must lie in 0 .. {len(class_names) - 1} (one per class name), "
            f"got values {int(labels.min())} .. {int(labels.max())}"
        )
    return labels


def _maybe_flip(image: torch.Tensor, flip: bool) -> torch.Tensor:
    if flip and torch.rand(()) < 0.5:
        return torch.flip(image, dims=(-1,))
    return image


class InMemoryImageDataset(Dataset):
    """Images kept in memory as a uint8 tensor (N, C, H, W), converted to float32 per item.

    Args:
        images: uint8 array or tensor of shape (N, C, H, W) with values in 0 .. ``max_value``.
        labels: N integer class labels in 0 .. len(class_names) - 1.
        class_names: one name per class label.
        flip: flip each item horizontally with probability 0.5 (use for training sets only).
        max_value: the pixel value that maps to 1.0 (255 for 8-bit images, 16 for sklearn's digits).
        manifest: the data manifest this subset belongs to, or None.
    """

    def __init__(
        self,
        images,
        labels,
        class_names: Sequence[str],
        flip: bool = False,
        max_value: int = 255,
        manifest: Optional[dict] = None,
    ):
        images = torch.as_tensor(images)
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(
                f"images must be a uint8 array of shape (N, C, H, W), got dtype {images.dtype} "
                f"and shape {tuple(images.shape)}"
            )
        if not 1 <= max_value <= 255:
            raise ValueError(f"max_value must lie in 1 .. 255, got {max_value!r}")

        self.images = images
        self.class_names = list(class_names)
        self.labels = _check_labels(labels, images.shape[0], self.class_names)
        self.flip = bool(flip)
        self.max_value = max_value
        self.manifest = manifest

    @property
    def input_dim(self) -> Tuple[int, int, int]:
        """Shape (C, H, W) of one item."""
        return tuple(self.images.shape[1:])

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> DatasetOutput:
        image = self.images[index].to(torch.float32) / self.max_value
        return DatasetOutput(data=_maybe_flip(image, self.flip), labels=self.labels[index])


class LazyImageDataset(Dataset):
    """Images read from their files on every access, for sets too large to hold in memory (CelebA).

    Args:
        paths: one image file per item.
        labels: one integer class label per item, in 0 .. len(class_names) - 1.
        class_names: one name per class label.
        mode: ``"RGB"`` or ``"L"``, the colour mode every image is converted to.
        center_crop: optional central crop, an int or (height, width), applied before ``size``.
        size: optional output size, an int or (height, width), reached by bilinear resizing.
        flip: flip each item horizontally with probability 0.5 (use for training sets only).
        manifest: the data manifest this subset belongs to, or None.

    The paths are checked for existence once, here. A file that later fails to decode raises
    ValueError naming it when its item is read. Without ``size`` (or ``center_crop``) all files must
    share one size, or batches cannot be stacked.
    """

    def __init__(
        self,
        paths: Sequence[str],
        labels,
        class_names: Sequence[str],
        mode: str = "RGB",
        center_crop: Optional[SizeLike] = None,
        size: Optional[SizeLike] = None,
        flip: bool = False,
        manifest: Optional[dict] = None,
    ):
        if mode not in IMAGE_MODES:
            raise ValueError(f"mode must be one of {IMAGE_MODES}, got {mode!r}")
        self.paths = [os.fspath(path) for path in paths]
        missing = [path for path in self.paths if not os.path.isfile(path)]
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} of {len(self.paths)} image files not found, first: {missing[:3]}"
            )

        self.class_names = list(class_names)
        self.labels = _check_labels(labels, len(self.paths), self.class_names)
        self.mode = mode
        self.center_crop = None if center_crop is None else _pair(center_crop, "center_crop")
        self.size = None if size is None else _pair(size, "size")
        self.flip = bool(flip)
        self.manifest = manifest

    @property
    def input_dim(self) -> Tuple[int, int, int]:
        """Shape (C, H, W) of one item; decodes the first image when ``size`` is not set."""
        channels = 3 if self.mode == "RGB" else 1
        if self.size is not None:
            return (channels, *self.size)
        if self.center_crop is not None:
            return (channels, *self.center_crop)
        return tuple(load_image(self.paths[0], self.mode).shape)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> DatasetOutput:
        pixels = load_image(self.paths[index], self.mode, self.center_crop, self.size)
        image = torch.from_numpy(pixels).to(torch.float32) / 255.0
        return DatasetOutput(data=_maybe_flip(image, self.flip), labels=self.labels[index])
