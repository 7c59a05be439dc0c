"""Named data protocols: long-tailed training sets with balanced test sets, built by ``load_preset``.

Every ``*-lt`` preset keeps n_k = floor(n_max * rho^(-k/(K-1))) training images of class k (see
``longtail``), with ``rho`` = n_max / n_min (not LDAM's inverse ``imb_factor``) and ``n_max`` the smallest
training class count unless given (svhn-lt: 4,656). Test sets are balanced: each class is cropped to the
smallest test class count (svhn-lt: 1,595). Both selections depend only on ``data_seed``.

Where each preset expects its files (``root`` is the folder that contains them):

==================  ==========================================================================================
preset              files under ``root``
==================  ==========================================================================================
svhn-lt             ``train_32x32.mat``, ``test_32x32.mat``; classes cropped to 4,656 train and 1,595 test images
cifar10-lt          ``cifar-10-batches-py/`` (or its contents), or an image tree ``train/<class>/``,
                    ``test/<class>/`` with the 10 CIFAR-10 class names (option ``layout``)
cifar100-lt         ``cifar-100-python/`` (or its contents): 500 train and 100 test images per class
mnist-lt            ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-*``, each optionally ``.gz``
fashion-mnist-lt    same names as MNIST; default root ``/usr/share/datasets/fashion-mnist`` (Debian package
                    ``dataset-fashion-mnist``)
digits-lt           none: sklearn's embedded 8x8 digits
imagefolder-lt      ``train/<class>/`` and ``test/<class>/``, or ``<class>/`` split by ``test_per_class``
celeba              ``img_align_celeba/``, ``list_attr_celeba.txt``, ``list_eval_partition.txt``; also
                    reachable as ``celeba-<attribute>``, for example ``celeba-mustache``
==================  ==========================================================================================
"""

import inspect
import logging
import os
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from torch.utils.data import Dataset

from .folders import CELEBA_CROP, CELEBA_SIZE, read_celeba, read_image_folder
from .longtail import balanced_indices, build_manifest, longtail_indices, split_per_class, write_manifest
from .readers import read_cifar10, read_cifar100, read_digits, read_fashion_mnist, read_mnist, read_svhn

logger = logging.getLogger(__name__)

DEFAULT_RHO = 100.0
FASHION_MNIST_ROOT = "/usr/share/datasets/fashion-mnist"
DIGITS_TEST_PER_CLASS = 30
# Per-class crop sizes of the reference SVHN-LT protocol (train before the long tail, and test).
SVHN_TRAIN_PER_CLASS = 4656
SVHN_TEST_PER_CLASS = 1595
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@dataclass
class LongTailData:
    """A training set, its balanced test set and the manifest that records how both were chosen."""

    train: Dataset
    test: Dataset
    class_names: List[str]
    input_dim: Tuple[int, int, int]
    manifest: dict

    def write_manifest(self, path) -> str:
        """Write the manifest as JSON to ``path``; return the path."""
        return write_manifest(self.manifest, path)


# Assembly ---------------------------------------------------------------------------------------------


def _check_all_classes(source, split: str, name: str) -> None:
    counts = np.bincount(source.labels, minlength=len(source.class_names))
    empty = [source.class_names[c] for c in np.flatnonzero(counts == 0)]
    if empty:
        raise ValueError(f"preset {name!r}: the {split} split has no images of classes {empty}")


def _resolve_class_order(class_order, class_names: Sequence[str]) -> Optional[List[int]]:
    """Map a head-to-tail class order given by labels or class names to labels."""
    if class_order is None:
        return None
    labels = []
    for entry in class_order:
        if isinstance(entry, str):
            if entry not in class_names:
                raise ValueError(f"unknown class name {entry!r} in class_order; allowed: {list(class_names)}")
            labels.append(list(class_names).index(entry))
        else:
            labels.append(int(entry))
    return labels


def _longtail_data(
    name: str,
    train,
    test,
    rho: float,
    data_seed: int,
    flip: bool,
    n_max: Optional[int] = None,
    test_per_class: Optional[int] = None,
    class_order=None,
    options: Optional[dict] = None,
) -> LongTailData:
    """Cut the long tail from ``train``, balance ``test`` and wrap both with one manifest."""
    if tuple(train.class_names) != tuple(test.class_names):
        raise ValueError(
            f"preset {name!r}: train classes {list(train.class_names)} differ from "
            f"test classes {list(test.class_names)}"
        )
    _check_all_classes(train, "train", name)
    _check_all_classes(test, "test", name)

    order = _resolve_class_order(class_order, train.class_names)
    train_indices, counts = longtail_indices(train.labels, rho, data_seed, order, n_max)
    test_indices = balanced_indices(test.labels, data_seed, test_per_class)
    return _assemble_data(
        name,
        train.subset(train_indices),
        test.subset(test_indices),
        rho,
        data_seed,
        list(counts),
        flip,
        options,
    )


def _assemble_data(name, train, test, rho, data_seed, class_order, flip, options) -> LongTailData:
    manifest = build_manifest(
        dataset=name,
        rho=rho,
        data_seed=data_seed,
        class_names=train.class_names,
        class_order=class_order,
        train_indices=train.positions,
        train_labels=train.labels,
        test_indices=test.positions,
        test_labels=test.labels,
        options=options,
    )
    train_dataset = train.to_dataset(flip=flip, manifest=manifest)
    test_dataset = test.to_dataset(flip=False, manifest=manifest)
    logger.info(
        "%s: train counts %s, test counts %s", name, manifest["train"]["counts"], manifest["test"]["counts"]
    )
    return LongTailData(
        train_dataset, test_dataset, list(train.class_names), train_dataset.input_dim, manifest
    )


def _split_then_longtail(name, source, rho, data_seed, flip, test_per_class, n_max, class_order, options):
    """Carve ``test_per_class`` images of every class out of ``source`` as the test set, then cut the tail."""
    if test_per_class is None:
        raise ValueError(f"preset {name!r} splits one folder into train and test: pass test_per_class=<int>")
    test_positions, pool_positions = split_per_class(source.labels, test_per_class, data_seed)
    options = {**options, "test_per_class": test_per_class}
    return _longtail_data(
        name,
        source.subset(pool_positions),
        source.subset(test_positions),
        rho,
        data_seed,
        flip,
        n_max,
        None,
        class_order,
        options,
    )


# Builders: one per preset, each (root, rho, data_seed, flip, **options) -> LongTailData -----------------


def _build_svhn(
    root,
    rho,
    data_seed,
    flip,
    n_max=SVHN_TRAIN_PER_CLASS,
    test_per_class=SVHN_TEST_PER_CLASS,
    class_order=None,
):
    # NOTE: the defaults are the reference protocol's crop sizes, not counts checked against the official
    # files here. Pass n_max=None / test_per_class=None to crop to the files' smallest class instead.
    train, test = read_svhn(root, "train"), read_svhn(root, "test")
    return _longtail_data("svhn-lt", train, test, rho, data_seed, flip, n_max, test_per_class, class_order)


def _build_cifar100(root, rho, data_seed, flip, n_max=None, test_per_class=None, class_order=None):
    train, test = read_cifar100(root, "train"), read_cifar100(root, "test")
    return _longtail_data(
        "cifar100-lt", train, test, rho, data_seed, flip, n_max, test_per_class, class_order
    )


def _detect_cifar10_layout(root: str) -> str:
    for folder in (os.path.join(root, "cifar-10-batches-py"), root):
        if os.path.isfile(os.path.join(folder, "batches.meta")):
            return "pickle"
    if os.path.isdir(os.path.join(root, "train")) and os.path.isdir(os.path.join(root, "test")):
        return "imagefolder"
    raise FileNotFoundError(
        f"no CIFAR-10 data under {root}: expected {os.path.join(root, 'cifar-10-batches-py', 'batches.meta')} "
        f"(pickles from https://www.cs.toronto.edu/~kriz/cifar.html) or the image folders "
        f"{os.path.join(root, 'train')}/<class>/ and {os.path.join(root, 'test')}/<class>/"
    )


def _build_cifar10(
    root, rho, data_seed, flip, layout=None, lazy=False, n_max=None, test_per_class=None, class_order=None
):
    if layout is None:
        layout = _detect_cifar10_layout(root)
    if layout == "pickle":
        train, test = read_cifar10(root, "train"), read_cifar10(root, "test")
    elif layout == "imagefolder":
        train = read_image_folder(
            os.path.join(root, "train"), "RGB", lazy=lazy, expected_classes=CIFAR10_CLASSES
        )
        test = read_image_folder(
            os.path.join(root, "test"), "RGB", lazy=lazy, expected_classes=CIFAR10_CLASSES
        )
    else:
        raise ValueError(f"layout must be 'pickle', 'imagefolder' or None (detect), got {layout!r}")
    options = {"layout": layout}
    return _longtail_data(
        "cifar10-lt", train, test, rho, data_seed, flip, n_max, test_per_class, class_order, options
    )


def _build_mnist(root, rho, data_seed, flip, n_max=None, test_per_class=None, class_order=None):
    train, test = read_mnist(root, "train"), read_mnist(root, "test")
    return _longtail_data("mnist-lt", train, test, rho, data_seed, flip, n_max, test_per_class, class_order)


def _build_fashion_mnist(root, rho, data_seed, flip, n_max=None, test_per_class=None, class_order=None):
    train, test = read_fashion_mnist(root, "train"), read_fashion_mnist(root, "test")
    return _longtail_data(
        "fashion-mnist-lt", train, test, rho, data_seed, flip, n_max, test_per_class, class_order
    )


def _build_digits(
    root, rho, data_seed, flip, test_per_class=DIGITS_TEST_PER_CLASS, n_max=None, class_order=None
):
    # sklearn's digits have no official test split: test_per_class images of every class are drawn with
    # data_seed as the balanced test set, and the long tail is cut from the remaining pool.
    return _split_then_longtail(
        "digits-lt", read_digits(), rho, data_seed, flip, test_per_class, n_max, class_order, {}
    )


def _build_image_folder(
    root,
    rho,
    data_seed,
    flip,
    mode=None,
    center_crop=None,
    size=None,
    lazy=False,
    test_per_class=None,
    n_max=None,
    class_order=None,
):
    train_root, test_root = os.path.join(root, "train"), os.path.join(root, "test")
    image_options = {"center_crop": center_crop, "size": size, "lazy": lazy}
    if os.path.isdir(train_root) and os.path.isdir(test_root):
        train = read_image_folder(train_root, mode, **image_options)
        test = read_image_folder(test_root, train.mode, **image_options, expected_classes=train.class_names)
        options = {"layout": "train/test"}
        return _longtail_data(
            "imagefolder-lt", train, test, rho, data_seed, flip, n_max, test_per_class, class_order, options
        )

    source = read_image_folder(root, mode, **image_options)
    return _split_then_longtail(
        "imagefolder-lt",
        source,
        rho,
        data_seed,
        flip,
        test_per_class,
        n_max,
        class_order,
        {"layout": "single"},
    )


def _build_celeba(
    root,
    rho,
    data_seed,
    flip,
    attribute=None,
    test_per_class=None,
    lazy=True,
    center_crop=CELEBA_CROP,
    size=CELEBA_SIZE,
):
    if attribute is None:
        raise ValueError(
            "preset 'celeba' needs attribute=<name>, for example 'Mustache', or use 'celeba-mustache'"
        )
    if rho is not None:
        raise ValueError(
            "preset 'celeba' keeps the natural imbalance of the official train split, "
            f"so rho must be None, got rho={rho}"
        )
    train = read_celeba(root, attribute, "train", center_crop, size, lazy)
    test = read_celeba(root, attribute, "test", center_crop, size, lazy)
    _check_all_classes(train, "train", "celeba")
    _check_all_classes(test, "test", "celeba")

    counts = np.bincount(train.labels, minlength=2)
    natural_rho = float(counts.max() / counts.min())
    class_order = [int(c) for c in np.argsort(-counts, kind="stable")]
    test_indices = balanced_indices(test.labels, data_seed, test_per_class)
    options = {"attribute": train.class_names[1]}
    return _assemble_data(
        "celeba", train, test.subset(test_indices), natural_rho, data_seed, class_order, flip, options
    )


@dataclass(frozen=True)
class Preset:
    """A registry entry: the builder, its default ``root`` (None: the caller must give one), its files,
    and the ``rho`` used when the caller passes None (None: the preset keeps the natural imbalance)."""

    builder: Callable[..., LongTailData]
    default_root: Optional[str]
    expected_files: str
    needs_root: bool = True
    default_rho: Optional[float] = DEFAULT_RHO


PRESETS: Dict[str, Preset] = {
    "svhn-lt": Preset(_build_svhn, None, "train_32x32.mat and test_32x32.mat"),
    "cifar10-lt": Preset(
        _build_cifar10, None, "cifar-10-batches-py/ or the image folders train/<class>/ and test/<class>/"
    ),
    "cifar100-lt": Preset(_build_cifar100, None, "cifar-100-python/"),
    "mnist-lt": Preset(_build_mnist, None, "train-images-idx3-ubyte[.gz] and the other MNIST IDX files"),
    "fashion-mnist-lt": Preset(
        _build_fashion_mnist, FASHION_MNIST_ROOT, "train-images-idx3-ubyte[.gz] and the other IDX files"
    ),
    "digits-lt": Preset(_build_digits, None, "nothing (sklearn's embedded digits)", needs_root=False),
    "imagefolder-lt": Preset(
        _build_image_folder, None, "train/<class>/ and test/<class>/, or <class>/ with test_per_class"
    ),
    "celeba": Preset(
        _build_celeba,
        None,
        "img_align_celeba/, list_attr_celeba.txt and list_eval_partition.txt",
        default_rho=None,
    ),
}

# Presets reachable as "<prefix>-<value>", which sets one option: "celeba-mustache" is attribute="mustache".
_PARAMETRISED_PRESETS = {"celeba": "attribute"}


def list_presets() -> List[str]:
    """Return the registered preset names; ``celeba-<attribute>`` forms are accepted too."""
    return sorted(PRESETS)


def _resolve_preset(name: str, options: dict) -> Tuple[str, dict]:
    if name in PRESETS:
        return name, options
    prefix, _, value = str(name).partition("-")
    if prefix in _PARAMETRISED_PRESETS and value:
        option = _PARAMETRISED_PRESETS[prefix]
        if options.get(option) not in (None, value):
            raise ValueError(
                f"preset {name!r} sets {option}={value!r}, which conflicts with {option}={options[option]!r}"
            )
        return prefix, {**options, option: value}
    raise ValueError(
        f"unknown preset {name!r}; allowed: {list_presets()} or "
        f"{[prefix + '-<' + option + '>' for prefix, option in _PARAMETRISED_PRESETS.items()]}"
    )


def _check_options(name: str, builder: Callable, options: dict) -> None:
    parameters = list(inspect.signature(builder).parameters)[4:]
    unknown = sorted(set(options) - set(parameters))
    if unknown:
        raise ValueError(f"preset {name!r} does not take options {unknown}; allowed: {parameters}")


def load_preset(
    name: str,
    root: Union[str, os.PathLike, None] = None,
    rho: Optional[float] = None,
    data_seed: int = 0,
    flip: bool = True,
    **options,
) -> LongTailData:
    """Build the training and test sets of a named protocol.

    Args:
        name: one of ``list_presets()``, or ``celeba-<attribute>``.
        root: folder that contains the preset's files (see the table in this module's docstring); default
            only for ``fashion-mnist-lt`` (``/usr/share/datasets/fashion-mnist``), unused by ``digits-lt``.
        rho: imbalance ratio n_max / n_min >= 1 (NOT LDAM's inverse ``imb_factor``); None means 100 for
            the ``*-lt`` presets and the natural imbalance for ``celeba``, which accepts only None.
        data_seed: seed of which images are kept, separate from the training seed.
        flip: random horizontal flip (p = 0.5) on the training set; the test set is never flipped.
        **options: preset options: ``n_max``, ``test_per_class``, ``class_order`` (head first, labels or
            class names), and per preset ``layout``, ``lazy``, ``mode``, ``center_crop``, ``size``,
            ``attribute``.

    Raises:
        ValueError: for an unknown preset, option, attribute or class name, an invalid ``rho``, or a
            ``rho`` so large that a class would keep zero images.
        FileNotFoundError: if a file the preset needs is missing under ``root``.
    """
    preset_name, options = _resolve_preset(name, options)
    preset = PRESETS[preset_name]
    _check_options(preset_name, preset.builder, options)

    if preset.needs_root:
        root = preset.default_root if root is None else root
        if root is None:
            raise ValueError(f"preset {name!r} needs root=<folder holding {preset.expected_files}>")
        root = os.fspath(root)
        if not os.path.isdir(root):
            raise FileNotFoundError(
                f"data folder not found: {root} (preset {name!r} expects {preset.expected_files})"
            )
    elif root is not None:
        raise ValueError(f"preset {name!r} reads no files, so root must be None, got {root!r}")

    if rho is None:
        rho = preset.default_rho
    return preset.builder(root, rho, data_seed, flip, **options)
