"""Writing generated images as PNG files, one sub-folder per class, with a CSV manifest."""

import csv
import os
from typing import Optional, Sequence

import numpy as np
import torch
from PIL import Image

MANIFEST_NAME = "manifest.csv"
MANIFEST_FIELDS = ("file", "class", "seed", "tau")


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Quantise images in [0, 1] to uint8 by rounding, clamping out-of-range values first."""
    return (images.detach().float().clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)


def class_folder(label: Optional[int]) -> str:
    """Sub-folder name of a class: ``class_007``; None (unconditional) writes into the root."""
    return "" if label is None else f"class_{label:03d}"


def save_png_batch(
    images: torch.Tensor,
    labels: Optional[torch.Tensor],
    output_dir: str,
    first_index: int,
) -> list:
    """Write a batch of images (B, C, H, W) in [0, 1]; return the file paths relative to ``output_dir``.

    Files are numbered from ``first_index``, so the name of a sample does not depend on the batch size.
    """
    pixels = to_uint8(images).permute(0, 2, 3, 1).cpu().numpy()  # (B, H, W, C)
    written = []
    for i, array in enumerate(pixels):
        label = None if labels is None else int(labels[i])
        relative = os.path.join(class_folder(label), f"{first_index + i:08d}.png")
        path = os.path.join(output_dir, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)

        if array.shape[-1] == 1:
            Image.fromarray(np.ascontiguousarray(array[..., 0]), mode="L").save(path)
        elif array.shape[-1] == 3:
            Image.fromarray(np.ascontiguousarray(array), mode="RGB").save(path)
        else:
            raise ValueError(f"PNG output needs 1 or 3 channels, got images of shape {tuple(images.shape)}")
        written.append(relative)
    return written


def write_manifest(
    output_dir: str, files: Sequence[str], labels: Optional[Sequence[int]], seed, tau: float
) -> str:
    """Write ``manifest.csv`` (file, class, seed, tau) listing every image; return its path."""
    path = os.path.join(output_dir, MANIFEST_NAME)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(MANIFEST_FIELDS)
        for i, name in enumerate(files):
            label = "" if labels is None else int(labels[i])
            writer.writerow([name, label, "" if seed is None else seed, f"{tau:.10g}"])
    return path
