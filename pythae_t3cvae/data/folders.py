"""Readers for data sets stored as image files: CelebA's official layout and class-per-folder image trees.

Both return an ``ImageFiles`` (paths and labels) without decoding any image, so a subset can be chosen
first and only the kept files are ever read.
"""

import logging
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, UnidentifiedImageError

from .datasets import SizeLike
from .sources import ImageFiles

logger = logging.getLogger(__name__)

CELEBA_URL = (
    "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (Align&Cropped images img_align_celeba.zip, "
    "Anno/list_attr_celeba.txt, Eval/list_eval_partition.txt)"
)
CELEBA_SPLITS = {"train": 0, "valid": 1, "test": 2}
CELEBA_CROP = 148
CELEBA_SIZE = 64

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
_GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


# CelebA -------------------------------------------------------------------------------------------------


def _read_lines(path: str) -> List[str]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"CelebA file not found: {path}. Get it from {CELEBA_URL}")
    with open(path, "r", encoding="utf-8") as handle:
        return [line for line in handle.read().splitlines() if line.strip()]


def read_celeba_attributes(root: str) -> Tuple[List[str], List[str], List[List[str]]]:
    """Parse ``root/list_attr_celeba.txt``.

    Line 1 is the image count, line 2 the 40 attribute names, and each further line is a file name
    followed by one value per attribute, 1 (present) or -1 (absent).

    Returns:
        (file_names, attribute_names, rows), where ``rows[i]`` contains the value strings of image i.
    """
    path = os.path.join(os.fspath(root), "list_attr_celeba.txt")
    lines = _read_lines(path)
    if len(lines) < 2:
        raise ValueError(
            f"CelebA file {path} must start with a count line and a header line, found {len(lines)} lines"
        )
    try:
        n_images = int(lines[0].strip())
    except ValueError as error:
        raise ValueError(f"CelebA file {path}: line 1 must be the image count, found {lines[0]!r}") from error
    attribute_names = lines[1].split()

    file_names, rows = [], []
    for line_number, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if len(fields) != len(attribute_names) + 1:
            raise ValueError(
                f"CelebA file {path}, line {line_number}: expected a file name and {len(attribute_names)} "
                f"values, found {len(fields)} fields"
            )
        file_names.append(fields[0])
        rows.append(fields[1:])
    if len(file_names) != n_images:
        raise ValueError(
            f"CelebA file {path}: line 1 announces {n_images} images, but {len(file_names)} rows follow"
        )
    return file_names, attribute_names, rows


def read_celeba_partition(root: str) -> Dict[str, int]:
    """Parse ``root/list_eval_partition.txt`` (``file_name 0|1|2`` for train, valid, test)."""
    path = os.path.join(os.fspath(root), "list_eval_partition.txt")
    partition = {}
    for line_number, line in enumerate(_read_lines(path), start=1):
        fields = line.split()
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise ValueError(
                f"CelebA file {path}, line {line_number}: expected 'file_name 0|1|2', found {line!r}"
            )
        partition[fields[0]] = int(fields[1])
    return partition


def resolve_celeba_attribute(attribute: str, attribute_names: Sequence[str]) -> str:
    """Match ``attribute`` to one of the official names, ignoring case and treating '-' as '_'."""
    key = str(attribute).lower().replace("-", "_")
    matches = [name for name in attribute_names if name.lower() == key]
    if not matches:
        raise ValueError(f"unknown CelebA attribute {attribute!r}; allowed: {list(attribute_names)}")
    return matches[0]


def read_celeba(
    root: str,
    attribute: str,
    split: str = "train",
    center_crop: Optional[SizeLike] = CELEBA_CROP,
    size: Optional[SizeLike] = CELEBA_SIZE,
    lazy: bool = True,
) -> ImageFiles:
    """List one official CelebA split as a two-class problem on one binary attribute.

    ``root`` contains ``img_align_celeba/``, ``list_attr_celeba.txt`` and ``list_eval_partition.txt``. Class 1
    is "attribute present" (value 1) and class 0 "attribute absent" (value -1); the class names are
    ``not_<Attribute>`` and ``<Attribute>``. Positions are row numbers (from 0) of the attribute file.
    Images are centre-cropped to 148 x 148 and resized to 64 x 64 (bilinear) when read.
    """
    if split not in CELEBA_SPLITS:
        raise ValueError(f"split must be one of {tuple(CELEBA_SPLITS)}, got {split!r}")
    root = os.fspath(root)
    image_folder = os.path.join(root, "img_align_celeba")
    if not os.path.isdir(image_folder):
        raise FileNotFoundError(f"CelebA image folder not found: {image_folder}. Get it from {CELEBA_URL}")

    file_names, attribute_names, rows = read_celeba_attributes(root)
    attribute = resolve_celeba_attribute(attribute, attribute_names)
    column = attribute_names.index(attribute)
    partition = read_celeba_partition(root)

    split_code = CELEBA_SPLITS[split]
    positions, labels = [], []
    for position, (file_name, row) in enumerate(zip(file_names, rows)):
        if file_name not in partition:
            raise ValueError(
                f"CelebA image {file_name} is listed in list_attr_celeba.txt "
                "but not in list_eval_partition.txt"
            )
        if partition[file_name] != split_code:
            continue
        value = row[column]
        if value not in ("1", "-1"):
            raise ValueError(
                f"CelebA file list_attr_celeba.txt: {file_name} has {attribute}={value!r}, expected 1 or -1"
            )
        positions.append(position)
        labels.append(1 if value == "1" else 0)

    if not positions:
        raise ValueError(f"CelebA split {split!r} lists no images in {root}")
    paths = [os.path.join(image_folder, file_names[position]) for position in positions]
    class_names = (f"not_{attribute}", attribute)
    return ImageFiles(
        paths, np.asarray(labels), class_names, "RGB", center_crop, size, lazy, np.asarray(positions)
    )


# Image folders ----------------------------------------------------------------------------------------


def _detect_mode(path: str) -> str:
    try:
        with Image.open(path) as image:
            return "L" if image.mode in _GREY_MODES else "RGB"
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"cannot decode image file {path}: {error}") from error


def read_image_folder(
    root: str,
    mode: Optional[str] = None,
    center_crop: Optional[SizeLike] = None,
    size: Optional[SizeLike] = None,
    lazy: bool = False,
    expected_classes: Optional[Sequence[str]] = None,
) -> ImageFiles:
    """List an image tree ``root/<class name>/*.png|jpg|jpeg`` (extensions in any case).

    Class labels follow the sorted class-folder names and files are sorted by name within a class;
    positions count files in that order. Folders whose name starts with '.' and other files are ignored.
    ``mode`` is ``"RGB"``, ``"L"`` or None, which takes "L" when the first image is greyscale and
    "RGB" otherwise. With ``lazy=False`` the kept files are decoded once, when the dataset is built,
    into a uint8 array; ``lazy=True`` reads them on every access instead. ``expected_classes``, if given,
    must equal the set of class folders.
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(
            f"image folder not found: {root} (expected {root}/<class name>/*.png|jpg|jpeg)"
        )
    class_names = sorted(
        entry.name for entry in os.scandir(root) if entry.is_dir() and not entry.name.startswith(".")
    )
    if not class_names:
        raise ValueError(
            f"image folder {root} has no class folders; expected {root}/<class name>/*.png|jpg|jpeg"
        )
    if expected_classes is not None and sorted(expected_classes) != class_names:
        raise ValueError(
            f"image folder {root} has class folders {class_names}, expected {sorted(expected_classes)}"
        )

    paths, labels = [], []
    for label, class_name in enumerate(class_names):
        class_folder = os.path.join(root, class_name)
        files = sorted(
            entry.name
            for entry in os.scandir(class_folder)
            if entry.is_file() and entry.name.lower().endswith(IMAGE_EXTENSIONS)
        )
        if not files:
            raise ValueError(f"class folder {class_folder} contains no {'/'.join(IMAGE_EXTENSIONS)} files")
        paths.extend(os.path.join(class_folder, name) for name in files)
        labels.extend([label] * len(files))

    if mode is None:
        mode = _detect_mode(paths[0])
    elif mode not in ("RGB", "L"):
        raise ValueError(f"mode must be 'RGB', 'L' or None (detect), got {mode!r}")
    logger.debug("image folder %s: %d files in %d classes", root, len(paths), len(class_names))
    return ImageFiles(paths, np.asarray(labels), class_names, mode, center_crop, size, lazy)
