"""Readers for the official file formats of SVHN, CIFAR-10/100, MNIST-style IDX files and sklearn's digits.

Each reader takes the local folder that contains the official files (nothing is downloaded and no checksum
is required) and returns an ``ImageArrays`` with uint8 images (N, C, H, W) and int64 labels, in the
files' own order. Missing files raise FileNotFoundError naming the expected path and the official
source; files that cannot be parsed, or that hold arrays of the wrong shape, raise ValueError naming
the file and what was found.
"""

import gzip
import logging
import os
import pickle
from typing import List, Sequence

import numpy as np
import scipy.io
from scipy.io.matlab import MatReadError

from .sources import ImageArrays

logger = logging.getLogger(__name__)

SVHN_URL = "http://ufldl.stanford.edu/housenumbers/ (files train_32x32.mat, test_32x32.mat)"
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html (the 'python version' archives)"
MNIST_URL = "http://yann.lecun.com/exdb/mnist/"
FASHION_MNIST_URL = (
    "https://github.com/zalandoresearch/fashion-mnist, or on Debian/Ubuntu "
    "'apt-get install dataset-fashion-mnist' (installs to /usr/share/datasets/fashion-mnist)"
)

SVHN_CLASSES = tuple(str(digit) for digit in range(10))
MNIST_CLASSES = SVHN_CLASSES
DIGITS_CLASSES = SVHN_CLASSES
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

# Element type codes of the IDX format (third byte of the magic number); multi-byte values are big-endian.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _check_split(split: str, allowed: Sequence[str]) -> str:
    if split not in allowed:
        raise ValueError(f"split must be one of {tuple(allowed)}, got {split!r}")
    return split


def _require_file(path: str, source: str) -> str:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"data file not found: {path}. Get it from {source}")
    return path


# SVHN -------------------------------------------------------------------------------------------------


def read_svhn(root: str, split: str = "train") -> ImageArrays:
    """Read ``root/{split}_32x32.mat`` of SVHN (cropped digits), ``split`` in train, test, extra.

    The file contains X of shape (32, 32, 3, N) and y of shape (N, 1) with labels 1 .. 10, where 10 is the
    digit 0. Labels are returned as the digit, 0 .. 9.
    """
    _check_split(split, ("train", "test", "extra"))
    path = _require_file(os.path.join(os.fspath(root), f"{split}_32x32.mat"), SVHN_URL)
    # Arbitrary bytes make loadmat fail in several ways (IndexError among them): all mean "not a .mat file".
    try:
        content = scipy.io.loadmat(path)
    except (MatReadError, ValueError, TypeError, OSError, NotImplementedError, IndexError, KeyError) as error:
        raise ValueError(f"cannot read SVHN file {path} as a MATLAB .mat file: {error}") from error

    if "X" not in content or "y" not in content:
        found = sorted(key for key in content if not key.startswith("__"))
        raise ValueError(f"SVHN file {path} must contain variables 'X' and 'y', found {found}")
    images, labels = content["X"], np.asarray(content["y"])
    if images.ndim != 4 or images.shape[:3] != (32, 32, 3) or images.dtype != np.uint8:
        raise ValueError(
            f"SVHN file {path}: X must be uint8 of shape (32, 32, 3, N), "
            f"found {images.dtype} of shape {images.shape}"
        )
    labels = labels.reshape(-1).astype(np.int64)
    if labels.size != images.shape[3]:
        raise ValueError(
            f"SVHN file {path}: X contains {images.shape[3]} images but y contains {labels.size} labels"
        )
    if labels.size and (labels.min() < 1 or labels.max() > 10):
        raise ValueError(
            f"SVHN file {path}: labels must lie in 1 .. 10, found {labels.min()} .. {labels.max()}"
        )

    return ImageArrays(images.transpose(3, 2, 0, 1), labels % 10, SVHN_CLASSES)


# CIFAR ------------------------------------------------------------------------------------------------


def _cifar_folder(root: str, folder_name: str, marker: str) -> str:
    """Accept either the unpacked ``folder_name`` itself or the folder that contains it."""
    root = os.fspath(root)
    nested = os.path.join(root, folder_name)
    if os.path.isfile(os.path.join(nested, marker)):
        return nested
    if os.path.isfile(os.path.join(root, marker)):
        return root
    raise FileNotFoundError(
        f"CIFAR file not found: neither {os.path.join(nested, marker)} nor {os.path.join(root, marker)} "
        f"exists. Get and unpack the archive from {CIFAR_URL}"
    )


def _load_pickle(path: str) -> dict:
    # NOTE: unpickling runs code stored in the file: only read CIFAR files from a source you trust.
    _require_file(path, CIFAR_URL)
    try:
        with open(path, "rb") as handle:
            content = pickle.load(handle, encoding="bytes")
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        ImportError,
        IndexError,
        KeyError,
    ) as error:
        raise ValueError(f"cannot read CIFAR file {path} as a Python pickle: {error}") from error
    if not isinstance(content, dict):
        raise ValueError(f"CIFAR file {path} must contain a dict, found {type(content).__name__}")
    return content


def _entry(content: dict, key: str, path: str):
    # The official pickles come from Python 2, so their keys load as bytes; accept str keys as well.
    for candidate in (key.encode(), key):
        if candidate in content:
            return content[candidate]
    found = sorted(k.decode() if isinstance(k, bytes) else str(k) for k in content)
    raise ValueError(f"CIFAR file {path} has no entry {key!r}, found {found}")


def _cifar_batch(path: str, label_key: str):
    content = _load_pickle(path)
    data = np.asarray(_entry(content, "data", path))
    labels = np.asarray(_entry(content, label_key, path))
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or data.dtype != np.uint8:
        raise ValueError(
            f"CIFAR file {path}: 'data' must be uint8 of shape (N, 3072), "
            f"found {data.dtype} of shape {data.shape}"
        )
    if labels.shape != (data.shape[0],):
        raise ValueError(
            f"CIFAR file {path}: '{label_key}' must contain {data.shape[0]} labels, "
            f"found shape {labels.shape}"
        )
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _cifar_names(path: str, key: str, n_classes: int) -> List[str]:
    names = [
        name.decode() if isinstance(name, bytes) else str(name)
        for name in _entry(_load_pickle(path), key, path)
    ]
    if len(names) != n_classes:
        raise ValueError(f"CIFAR file {path}: '{key}' must list {n_classes} names, found {len(names)}")
    return names


def _assemble_cifar(paths: List[str], label_key: str, class_names: List[str]) -> ImageArrays:
    batches = [_cifar_batch(path, label_key) for path in paths]
    images = np.concatenate([images for images, _ in batches])
    labels = np.concatenate([labels for _, labels in batches])
    if labels.size and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise ValueError(
            f"CIFAR files {paths}: labels must lie in 0 .. {len(class_names) - 1}, "
            f"found {labels.min()} .. {labels.max()}"
        )
    return ImageArrays(images, labels, class_names)


def read_cifar10(root: str, split: str = "train") -> ImageArrays:
    """Read CIFAR-10 from the unpacked ``cifar-10-batches-py/`` folder (``root`` is it or its parent).

    The train split is ``data_batch_1`` .. ``data_batch_5`` in that order and the test split is
    ``test_batch``; class names come from ``batches.meta``.
    """
    _check_split(split, ("train", "test"))
    folder = _cifar_folder(root, "cifar-10-batches-py", "batches.meta")
    files = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    names = _cifar_names(os.path.join(folder, "batches.meta"), "label_names", 10)
    return _assemble_cifar([os.path.join(folder, name) for name in files], "labels", names)


def read_cifar100(root: str, split: str = "train") -> ImageArrays:
    """Read CIFAR-100 with fine labels from ``cifar-100-python/`` (``root`` is that folder or its parent).

    Files ``train`` and ``test`` hold the images, ``meta`` the 100 fine class names.
    """
    _check_split(split, ("train", "test"))
    folder = _cifar_folder(root, "cifar-100-python", "meta")
    names = _cifar_names(os.path.join(folder, "meta"), "fine_label_names", 100)
    return _assemble_cifar([os.path.join(folder, split)], "fine_labels", names)


# IDX (MNIST, Fashion-MNIST) -----------------------------------------------------------------------------


def read_idx(path: str) -> np.ndarray:
    """Parse an IDX file, gzipped or not (detected from its first bytes), into a native-endian array.

    Layout: two zero bytes, an element type code, the number of dimensions d, d big-endian uint32 sizes,
    then the elements in C order, big-endian.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"IDX file not found: {path}")
    with open(path, "rb") as handle:
        raw = handle.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise ValueError(f"cannot decompress gzipped IDX file {path}: {error}") from error

    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise ValueError(
            f"{path} is not an IDX file: its magic number must be 00 00 <type> <ndim> with type in "
            f"{[hex(code) for code in IDX_DTYPES]}, found bytes {raw[:4].hex(' ')}"
        )
    dtype, n_dims = IDX_DTYPES[raw[2]], raw[3]
    header_size = 4 + 4 * n_dims
    if len(raw) < header_size:
        raise ValueError(f"IDX file {path} is truncated inside its header ({len(raw)} bytes)")
    shape = tuple(int(size) for size in np.frombuffer(raw, dtype=">u4", count=n_dims, offset=4))

    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header_size
    if found != expected:
        raise ValueError(
            f"IDX file {path}: header announces shape {shape} ({expected} bytes of {dtype}), "
            f"but {found} bytes of data follow"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape).astype(dtype.newbyteorder("="))


def _find_idx(root: str, name: str, source: str) -> str:
    candidates = [os.path.join(root, name), os.path.join(root, name + ".gz")]
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(f"IDX file not found: tried {candidates}. Get it from {source}")


def read_mnist(
    root: str, split: str = "train", class_names: Sequence[str] = MNIST_CLASSES, source: str = MNIST_URL
) -> ImageArrays:
    """Read an MNIST-style pair of IDX files from ``root``, plain or with a ``.gz`` suffix.

    The train split is ``train-images-idx3-ubyte`` + ``train-labels-idx1-ubyte`` and the test split
    ``t10k-images-idx3-ubyte`` + ``t10k-labels-idx1-ubyte``. Images are returned as (N, 1, H, W).
    ``source`` is named in the error raised when a file is missing.
    """
    _check_split(split, ("train", "test"))
    root = os.fspath(root)
    prefix = "train" if split == "train" else "t10k"
    image_path = _find_idx(root, f"{prefix}-images-idx3-ubyte", source)
    label_path = _find_idx(root, f"{prefix}-labels-idx1-ubyte", source)

    images, labels = read_idx(image_path), read_idx(label_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"IDX file {image_path}: images must be uint8 of shape (N, H, W), "
            f"found {images.dtype} of shape {images.shape}"
        )
    if labels.shape != (images.shape[0],):
        raise ValueError(
            f"IDX file {label_path}: must contain {images.shape[0]} labels (one per image of {image_path}), "
            f"found shape {labels.shape}"
        )
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise ValueError(
            f"IDX file {label_path}: labels must lie in 0 .. {len(class_names) - 1}, "
            f"found {labels.min()} .. {labels.max()}"
        )
    return ImageArrays(images[:, None, :, :], labels, class_names)


def read_fashion_mnist(root: str, split: str = "train") -> ImageArrays:
    """Read Fashion-MNIST's IDX files (same names and layout as MNIST) from ``root``."""
    return read_mnist(root, split, FASHION_MNIST_CLASSES, FASHION_MNIST_URL)


# sklearn digits -----------------------------------------------------------------------------------------


def read_digits() -> ImageArrays:
    """Load sklearn's 1,797 embedded 8x8 greyscale digits (values 0 .. 16, so ``max_value`` is 16)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.rint(digits.images).astype(np.uint8)[:, None, :, :]
    return ImageArrays(images, digits.target.astype(np.int64), DIGITS_CLASSES, max_value=16)
