"""Class labels: validation of the labels a batch carries, and class counts of a training set."""

from typing import Optional, Union

import torch
from torch.utils.data import Dataset


def parse_labels(labels, n_classes: int, batch_size: Optional[int] = None) -> torch.Tensor:
    """Return ``labels`` as a LongTensor of shape (B,) after checking they are class ids in [0, n_classes).

    pythae's ``BaseDataset`` stores labels as float32, so integer-valued floats are accepted; shape
    (B, 1) is flattened.
    """
    labels = torch.as_tensor(labels)
    if labels.dim() == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.dim() != 1:
        raise ValueError(
            f"labels must be a 1-D tensor of class ids (one per sample), got shape {tuple(labels.shape)}"
        )
    if batch_size is not None and labels.shape[0] != batch_size:
        raise ValueError(f"got {labels.shape[0]} labels for a batch of {batch_size} samples")

    if labels.dtype == torch.bool or labels.is_complex():
        raise ValueError(f"labels must be integer class ids in [0, {n_classes}), got dtype {labels.dtype}")

    # Every training step runs this check, so it costs one host-device sync and as few kernels as
    # possible. Only a failing batch takes the slower path that finds the value to name.
    # The range is checked before casting: casting inf, or a float beyond the int64 range, to long
    # gives an unrelated integer, which the message would then show instead of the label received.
    if labels.is_floating_point():
        # Clamping to [0, n_classes - 1] and rounding leave exactly the valid labels unchanged.
        # NaN never compares equal, so torch.equal rejects it as well.
        valid = torch.equal(labels.clamp(0, n_classes - 1).round(), labels)
    else:
        valid = not bool(((labels < 0) | (labels >= n_classes)).any())
    if not valid:
        raise ValueError(_invalid_label_message(labels, n_classes))
    return labels.long()


def _invalid_label_message(labels: torch.Tensor, n_classes: int) -> str:
    """Return the error message for the first invalid label, non-integer values before range errors."""
    if labels.is_floating_point():
        not_integer = labels != labels.round()
        if bool(not_integer.any()):
            value = labels[not_integer][0].item()
            return f"labels must be integer class ids in [0, {n_classes}), got the non-integer value {value!r}"

    out_of_range = (labels < 0) | (labels >= n_classes)
    value = labels[out_of_range][0].item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"labels must be class ids in [0, {n_classes}) for n_classes={n_classes}, got {value}"


def class_counts(data: Union[Dataset, torch.Tensor], n_classes: int) -> list:
    """Count the samples of every class in a labelled dataset or a label tensor.

    ``data`` is a tensor of labels, or a dataset with a ``labels`` attribute (pythae's
    ``BaseDataset`` and this package's datasets), or any dataset whose items carry a "labels"
    entry (read item by item, which is slower). The result, a list of ``n_classes`` ints, is the
    ``class_counts`` field of the conditional model configs.
    """
    if torch.is_tensor(data):
        labels = data
    elif hasattr(data, "labels") and data.labels is not None:
        labels = torch.as_tensor(data.labels)
    else:
        labels = torch.stack([torch.as_tensor(data[i]["labels"]) for i in range(len(data))])

    labels = parse_labels(labels.reshape(-1), n_classes)
    return torch.bincount(labels, minlength=n_classes).tolist()
