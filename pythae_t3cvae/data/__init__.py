"""Long-tailed training sets, balanced test sets and readers for the data of the reference protocols.

Start with ``load_preset(name, root, rho, data_seed)``; ``list_presets()`` names the protocols. The
building blocks (``longtail_indices``, the readers and the datasets) serve data that no preset covers.
"""

from .datasets import InMemoryImageDataset, LazyImageDataset, decode_images, load_image
from .folders import read_celeba, read_image_folder
from .longtail import (
    balanced_indices,
    build_manifest,
    indices_sha256,
    longtail_counts,
    longtail_indices,
    split_per_class,
    write_manifest,
)
from .presets import PRESETS, LongTailData, list_presets, load_preset
from .readers import (
    read_cifar10,
    read_cifar100,
    read_digits,
    read_fashion_mnist,
    read_idx,
    read_mnist,
    read_svhn,
)
from .sources import ImageArrays, ImageFiles

__all__ = [
    "ImageArrays",
    "ImageFiles",
    "InMemoryImageDataset",
    "LazyImageDataset",
    "LongTailData",
    "PRESETS",
    "balanced_indices",
    "build_manifest",
    "decode_images",
    "indices_sha256",
    "list_presets",
    "load_image",
    "load_preset",
    "longtail_counts",
    "longtail_indices",
    "read_celeba",
    "read_cifar10",
    "read_cifar100",
    "read_digits",
    "read_fashion_mnist",
    "read_idx",
    "read_image_folder",
    "read_mnist",
    "read_svhn",
    "split_per_class",
    "write_manifest",
]
