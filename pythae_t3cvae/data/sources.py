"""One split of a source data set as the readers return it: decoded arrays or a list of image files.

A source keeps, for each image, its position in the source's own order (for example the column of a
``.mat`` file or the line of a CelebA list file). Subsets carry those positions along, so a manifest can
name the kept images in the original files' terms.
"""

from dataclasses import dataclass, field
from typing import Optional, Sequence, Tuple

import numpy as np

from .datasets import InMemoryImageDataset, LazyImageDataset, SizeLike, decode_images


def _default_positions(n_items: int, positions) -> np.ndarray:
    if positions is None:
        return np.arange(n_items, dtype=np.int64)
    return np.asarray(positions, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class ImageArrays:
    """Decoded images of one split.

    Attributes:
        images: uint8 array (N, C, H, W) with values in 0 .. ``max_value``.
        labels: int64 array (N,) of class labels in 0 .. len(class_names) - 1.
        class_names: one name per class label.
        max_value: the pixel value that maps to 1.0.
        positions: each image's position in the source's own order (default 0 .. N-1).
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: Tuple[str, ...]
    max_value: int = 255
    positions: Optional[np.ndarray] = field(default=None)

    def __post_init__(self):
        object.__setattr__(self, "labels", np.asarray(self.labels, dtype=np.int64))
        object.__setattr__(self, "class_names", tuple(self.class_names))
        object.__setattr__(self, "positions", _default_positions(len(self.labels), self.positions))

    def subset(self, indices: Sequence[int]) -> "ImageArrays":
        """Return the images at ``indices`` (positions into this split, not into the source)."""
        indices = np.asarray(indices, dtype=np.int64)
        return ImageArrays(
            self.images[indices],
            self.labels[indices],
            self.class_names,
            self.max_value,
            self.positions[indices],
        )

    def to_dataset(self, flip: bool = False, manifest: Optional[dict] = None) -> InMemoryImageDataset:
        """Wrap the images in a dataset; the uint8 array is shared, not copied to float."""
        return InMemoryImageDataset(
            np.ascontiguousarray(self.images), self.labels, self.class_names, flip, self.max_value, manifest
        )


@dataclass(frozen=True, eq=False)
class ImageFiles:
    """Image files of one split, decoded when the dataset is built (``lazy=False``) or per item.

    Attributes:
        paths: one image file per item.
        labels: int64 array (N,) of class labels in 0 .. len(class_names) - 1.
        class_names: one name per class label.
        mode: ``"RGB"`` or ``"L"``.
        center_crop: optional central crop (int or (height, width)) applied before ``size``.
        size: optional bilinear resize target (int or (height, width)).
        lazy: read files on every access (``LazyImageDataset``) instead of decoding the kept files once
            into a uint8 array (``InMemoryImageDataset``).
        positions: each file's position in the source's own order (default 0 .. N-1).
    """

    paths: Tuple[str, ...]
    labels: np.ndarray
    class_names: Tuple[str, ...]
    mode: str = "RGB"
    center_crop: Optional[SizeLike] = None
    size: Optional[SizeLike] = None
    lazy: bool = True
    positions: Optional[np.ndarray] = field(default=None)

    def __post_init__(self):
        object.__setattr__(self, "paths", tuple(self.paths))
        object.__setattr__(self, "labels", np.asarray(self.labels, dtype=np.int64))
        object.__setattr__(self, "class_names", tuple(self.class_names))
        object.__setattr__(self, "positions", _default_positions(len(self.labels), self.positions))

    def subset(self, indices: Sequence[int]) -> "ImageFiles":
        """Return the files at ``indices`` (positions into this split, not into the source)."""
        indices = np.asarray(indices, dtype=np.int64)
        return ImageFiles(
            tuple(self.paths[i] for i in indices),
            self.labels[indices],
            self.class_names,
            self.mode,
            self.center_crop,
            self.size,
            self.lazy,
            self.positions[indices],
        )

    def to_dataset(self, flip: bool = False, manifest: Optional[dict] = None):
        """Build a ``LazyImageDataset`` (``lazy=True``) or decode into an ``InMemoryImageDataset``."""
        if self.lazy:
            return LazyImageDataset(
                self.paths,
                self.labels,
                self.class_names,
                self.mode,
                self.center_crop,
                self.size,
                flip,
                manifest,
            )
        images = decode_images(self.paths, self.mode, self.center_crop, self.size)
        return InMemoryImageDataset(images, self.labels, self.class_names, flip, 255, manifest)
