"""Tests of the data module: long-tail counts and selection, readers on files in the official formats
(written here into tmp_path), presets, datasets in pythae's pipeline, and the error messages."""

import gzip
import hashlib
import json
import math
import os
import pickle
import struct

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image
from pythae.data.datasets import DatasetOutput, collate_dataset_output
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader

from pythae_t3cvae.data import (
    InMemoryImageDataset,
    LazyImageDataset,
    balanced_indices,
    build_manifest,
    indices_sha256,
    list_presets,
    load_image,
    load_preset,
    longtail_counts,
    longtail_indices,
    read_celeba,
    read_cifar10,
    read_cifar100,
    read_digits,
    read_fashion_mnist,
    read_idx,
    read_image_folder,
    read_mnist,
    read_svhn,
    split_per_class,
    write_manifest,
)

FASHION_MNIST_ROOT = "/usr/share/datasets/fashion-mnist"


# File writers in the official formats ---------------------------------------------------------------


def write_svhn(folder, split, counts, seed=0):
    """Write ``split``_32x32.mat with counts[d] images of digit d (digit 0 stored as label 10)."""
    rng = np.random.default_rng(seed)
    digits = np.concatenate([np.full(count, digit) for digit, count in enumerate(counts)])
    digits = rng.permutation(digits)
    images = rng.integers(0, 256, size=(32, 32, 3, digits.size), dtype=np.uint8)
    stored = np.where(digits == 0, 10, digits).astype(np.uint8).reshape(-1, 1)
    os.makedirs(folder, exist_ok=True)
    scipy.io.savemat(os.path.join(folder, f"{split}_32x32.mat"), {"X": images, "y": stored})
    return images, digits


def write_pickle(path, content):
    with open(path, "wb") as handle:
        pickle.dump(content, handle, protocol=2)


def write_cifar10(root, per_batch=6, test_size=20, seed=0):
    """Write cifar-10-batches-py/ with bytes keys, as the official Python 2 pickles load."""
    rng = np.random.default_rng(seed)
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder)
    names = [
        b"airplane",
        b"automobile",
        b"bird",
        b"cat",
        b"deer",
        b"dog",
        b"frog",
        b"horse",
        b"ship",
        b"truck",
    ]
    write_pickle(os.path.join(folder, "batches.meta"), {b"label_names": names, b"num_vis": 3072})
    batches = []
    for i in range(1, 6):
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=per_batch)]
        write_pickle(
            os.path.join(folder, f"data_batch_{i}"), {b"data": data, b"labels": labels, b"batch_label": b"x"}
        )
        batches.append((data, labels))
    test_data = rng.integers(0, 256, size=(test_size, 3072), dtype=np.uint8)
    test_labels = [i % 10 for i in range(test_size)]
    write_pickle(os.path.join(folder, "test_batch"), {b"data": test_data, b"labels": test_labels})
    return batches, (test_data, test_labels)


def write_cifar100(root, train_per_class=2, test_per_class=1, seed=0):
    rng = np.random.default_rng(seed)
    folder = os.path.join(root, "cifar-100-python")
    os.makedirs(folder)
    names = [f"class_{i:02d}".encode() for i in range(100)]
    write_pickle(
        os.path.join(folder, "meta"), {b"fine_label_names": names, b"coarse_label_names": [b"c"] * 20}
    )
    written = {}
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        labels = rng.permutation(np.repeat(np.arange(100), per_class))
        data = rng.integers(0, 256, size=(labels.size, 3072), dtype=np.uint8)
        write_pickle(
            os.path.join(folder, split),
            {b"data": data, b"fine_labels": labels.tolist(), b"coarse_labels": (labels // 5).tolist()},
        )
        written[split] = (data, labels)
    return written


def idx_bytes(array, type_code=0x08, dtype=">u1"):
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.asarray(array).astype(dtype).tobytes()


def write_mnist(folder, counts_train, counts_test, compress, seed=0):
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    written = {}
    for prefix, counts in (("train", counts_train), ("t10k", counts_test)):
        labels = rng.permutation(np.concatenate([np.full(c, k) for k, c in enumerate(counts)])).astype(
            np.uint8
        )
        images = rng.integers(0, 256, size=(labels.size, 28, 28), dtype=np.uint8)
        for kind, array, ndim in (("images", images, 3), ("labels", labels, 1)):
            name = f"{prefix}-{kind}-idx{ndim}-ubyte"
            raw = idx_bytes(array)
            if compress:
                name, raw = name + ".gz", gzip.compress(raw)
            with open(os.path.join(folder, name), "wb") as handle:
                handle.write(raw)
        written[prefix] = (images, labels)
    return written


CELEBA_ATTRIBUTES = ["5_o_Clock_Shadow", "Male", "Mustache", "Young"]


def write_celeba(root, rows, partitions, size=(178, 218)):
    """Write img_align_celeba/ JPEGs whose central 148 x 148 window is white and border black.

    ``rows`` maps a file name to its attribute values (1/-1, one per CELEBA_ATTRIBUTES entry).
    """
    image_folder = os.path.join(root, "img_align_celeba")
    os.makedirs(image_folder)
    width, height = size
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    top, left = (height - 148) // 2, (width - 148) // 2
    pixels[top : top + 148, left : left + 148] = 255
    for file_name in rows:
        Image.fromarray(pixels).save(os.path.join(image_folder, file_name), quality=95)

    lines = [str(len(rows)), " ".join(CELEBA_ATTRIBUTES)]
    lines += [f"{name} " + " ".join(f"{v:2d}" for v in values) for name, values in rows.items()]
    with open(os.path.join(root, "list_attr_celeba.txt"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    with open(os.path.join(root, "list_eval_partition.txt"), "w") as handle:
        handle.write("".join(f"{name} {part}\n" for name, part in partitions.items()))


def celeba_fixture(root):
    """Train: 5 with a mustache, 2 without; valid: 1; test: 1 with, 3 without."""
    mustache = CELEBA_ATTRIBUTES.index("Mustache")
    plan = [(0, 1)] * 5 + [(0, -1)] * 2 + [(1, 1)] + [(2, 1)] + [(2, -1)] * 3
    rows, partitions = {}, {}
    for number, (part, value) in enumerate(plan, start=1):
        name = f"{number:06d}.jpg"
        values = [-1, 1, -1, 1]
        values[mustache] = value
        rows[name], partitions[name] = values, part
    write_celeba(root, rows, partitions)
    return rows, partitions


def write_image_folder(root, counts, size=(5, 6), mode="RGB", extension="png", seed=0):
    """Write root/<class>/<i>.<extension> with random pixels; return {path: pixel array (H, W[, C])}."""
    rng = np.random.default_rng(seed)
    written = {}
    for class_name, count in counts.items():
        os.makedirs(os.path.join(root, class_name), exist_ok=True)
        for i in range(count):
            shape = (size[0], size[1], 3) if mode == "RGB" else size
            pixels = rng.integers(0, 256, size=shape, dtype=np.uint8)
            path = os.path.join(root, class_name, f"{i:03d}.{extension}")
            Image.fromarray(pixels, mode).save(path)
            written[path] = pixels
    return written


def first_batch(dataset, batch_size=4):
    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=collate_dataset_output)
    return next(iter(loader))


# Long-tail counts -------------------------------------------------------------------------------------


def test_counts_cifar10_rho100():
    assert longtail_counts(5000, 10, 100) == [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]


@pytest.mark.parametrize("rho, total", [(100, 10847), (50, 12608), (10, 19573), (1, 50000)])
def test_counts_cifar100_totals(rho, total):
    assert sum(longtail_counts(500, 100, rho)) == total


def test_counts_exact_where_float_rounds_down():
    # 64 * 64^(-k/6) = 2^(6-k) exactly, but 64 * 64 ** (-5/6) evaluates to 1.999... in floating point.
    assert math.floor(64 * 64 ** (-5 / 6)) == 1
    assert longtail_counts(64, 7, 64) == [64, 32, 16, 8, 4, 2, 1]


def test_counts_small_case_by_hand():
    # 10 * 10^(-k/9) = 10, 7.74, 5.99, 4.64, 3.59, 2.78, 2.15, 1.67, 1.29, 1.
    assert longtail_counts(10, 10, 10) == [10, 7, 5, 4, 3, 2, 2, 1, 1, 1]


def test_counts_edge_values():
    assert longtail_counts(7, 4, 1) == [7, 7, 7, 7]
    assert longtail_counts(50, 2, 50) == [50, 1]
    assert longtail_counts(30, 1, 1000) == [30]
    assert longtail_counts(5000, 10, 3.5)[-1] == math.floor(5000 / 3.5)


# Long-tail selection ----------------------------------------------------------------------------------


def balanced_labels(n_classes=10, per_class=20, seed=0):
    return np.random.default_rng(seed).permutation(np.repeat(np.arange(n_classes), per_class))


def test_longtail_rho1_keeps_everything():
    labels = balanced_labels()
    indices, counts = longtail_indices(labels, 1, data_seed=3)
    assert indices.tolist() == list(range(labels.size))
    assert list(counts.values()) == [20] * 10


def test_longtail_indices_match_counts():
    labels = balanced_labels()
    indices, counts = longtail_indices(labels, 10, data_seed=0)
    assert np.all(np.diff(indices) > 0)
    assert indices.dtype == np.int64
    assert np.bincount(labels[indices], minlength=10).tolist() == longtail_counts(20, 10, 10)
    assert counts == dict(enumerate(longtail_counts(20, 10, 10)))


def test_longtail_same_seed_same_indices():
    labels = balanced_labels()
    first, _ = longtail_indices(labels, 10, data_seed=5)
    second, _ = longtail_indices(labels, 10, data_seed=5)
    assert np.array_equal(first, second)


def test_longtail_other_seed_other_indices():
    labels = balanced_labels()
    first, first_counts = longtail_indices(labels, 10, data_seed=5)
    second, second_counts = longtail_indices(labels, 10, data_seed=6)
    assert not np.array_equal(first, second)
    assert first_counts == second_counts


def test_longtail_nested_across_rho():
    labels = balanced_labels()
    small_rho, _ = longtail_indices(labels, 4, data_seed=1)
    large_rho, _ = longtail_indices(labels, 20, data_seed=1)
    assert set(large_rho) < set(small_rho)


def test_longtail_class_order_sets_head():
    labels = balanced_labels(n_classes=3, per_class=10)
    indices, counts = longtail_indices(labels, 10, data_seed=0, class_order=[2, 0, 1])
    assert list(counts) == [2, 0, 1]
    assert np.bincount(labels[indices], minlength=3).tolist() == [3, 1, 10]


def test_longtail_crops_unbalanced_source():
    labels = np.repeat(np.arange(3), [12, 9, 15])
    indices, counts = longtail_indices(labels, 1, data_seed=0)
    assert np.bincount(labels[indices]).tolist() == [9, 9, 9]
    indices, counts = longtail_indices(labels, 1, data_seed=0, n_max=4)
    assert list(counts.values()) == [4, 4, 4]


def test_balanced_indices_per_class():
    labels = np.repeat(np.arange(4), [7, 5, 9, 6])
    indices = balanced_indices(labels, data_seed=2)
    assert np.bincount(labels[indices]).tolist() == [5, 5, 5, 5]
    assert np.array_equal(indices, balanced_indices(labels, data_seed=2))
    assert not np.array_equal(indices, balanced_indices(labels, data_seed=3))
    assert np.bincount(labels[balanced_indices(labels, 0, per_class=2)]).tolist() == [2, 2, 2, 2]


def test_split_per_class_partitions():
    labels = np.repeat(np.arange(3), [6, 8, 7])
    split, rest = split_per_class(labels, 2, data_seed=0)
    assert np.bincount(labels[split]).tolist() == [2, 2, 2]
    assert np.intersect1d(split, rest).size == 0
    assert sorted(np.concatenate([split, rest]).tolist()) == list(range(labels.size))


# Manifest ---------------------------------------------------------------------------------------------


def test_manifest_hash_and_counts(tmp_path):
    labels = balanced_labels(n_classes=3, per_class=10)
    indices, counts = longtail_indices(labels, 5, data_seed=4)
    manifest = build_manifest(
        dataset="toy",
        rho=5,
        data_seed=4,
        class_names=["a", "b", "c"],
        class_order=list(counts),
        train_indices=indices,
        train_labels=labels[indices],
        options={"note": "x"},
    )
    expected_hash = hashlib.sha256(b"".join(struct.pack("<q", int(i)) for i in sorted(indices))).hexdigest()
    assert manifest["train"]["indices_sha256"] == expected_hash
    assert indices_sha256(indices[::-1]) == expected_hash
    assert manifest["train"]["counts"] == {"a": 10, "b": 4, "c": 2}
    assert manifest["rho"] == 5.0
    assert manifest["data_seed"] == 4
    assert manifest["class_order"] == [0, 1, 2]

    path = write_manifest(manifest, tmp_path / "run" / "data.json")
    with open(path) as handle:
        assert json.load(handle) == manifest


def test_manifest_rejects_unserialisable_option():
    with pytest.raises(TypeError):
        build_manifest(
            dataset="toy",
            rho=1,
            data_seed=0,
            class_names=["a"],
            class_order=[0],
            train_indices=[0],
            train_labels=[0],
            options={"bad": object()},
        )


# Readers ----------------------------------------------------------------------------------------------


def test_svhn_reader_maps_label_10_to_0(tmp_path):
    images, digits = write_svhn(tmp_path, "train", [3, 2, 2, 2, 2, 2, 2, 2, 2, 2])
    arrays = read_svhn(tmp_path, "train")
    assert arrays.images.shape == (21, 3, 32, 32)
    assert arrays.images.dtype == np.uint8
    assert np.array_equal(arrays.labels, digits)
    assert arrays.labels.min() == 0
    # X is indexed [row, column, channel, image] in the .mat file.
    assert arrays.images[4, 2, 7, 11] == images[7, 11, 2, 4]


def test_cifar10_reader_layout(tmp_path):
    batches, (test_data, test_labels) = write_cifar10(tmp_path)
    train = read_cifar10(tmp_path, "train")
    assert train.images.shape == (30, 3, 32, 32)
    assert train.labels.tolist() == sum((labels for _, labels in batches), [])
    # Row layout: 1024 red values, then green, then blue, each row-major over 32 x 32.
    row = batches[1][0][2]
    assert train.images[8, 1, 3, 5] == row[1024 + 3 * 32 + 5]
    assert train.class_names[0] == "airplane"
    test = read_cifar10(os.path.join(tmp_path, "cifar-10-batches-py"), "test")
    assert test.labels.tolist() == test_labels


def test_cifar100_reader_fine_labels(tmp_path):
    written = write_cifar100(tmp_path)
    train = read_cifar100(tmp_path, "train")
    data, labels = written["train"]
    assert train.images.shape == (200, 3, 32, 32)
    assert np.array_equal(train.labels, labels)
    assert train.images[17, 2, 31, 0] == data[17, 2048 + 31 * 32]
    assert train.class_names[42] == "class_42"


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_reader_idx_files(tmp_path, compress):
    written = write_mnist(tmp_path, [3] * 10, [2] * 10, compress)
    train = read_mnist(tmp_path, "train")
    images, labels = written["train"]
    assert train.images.shape == (30, 1, 28, 28)
    assert np.array_equal(train.images[:, 0], images)
    assert np.array_equal(train.labels, labels)
    assert read_mnist(tmp_path, "test").images.shape == (20, 1, 28, 28)


def test_idx_reader_big_endian_int32(tmp_path):
    values = np.array([[1, 256], [-2, 70000]])
    path = tmp_path / "values.idx"
    path.write_bytes(idx_bytes(values, 0x0C, ">i4"))
    parsed = read_idx(path)
    assert parsed.shape == (2, 2)
    assert parsed.tolist() == [[1, 256], [-2, 70000]]


def test_digits_reader_scale():
    arrays = read_digits()
    reference = load_digits()
    dataset = arrays.to_dataset()
    assert arrays.images.shape == (1797, 1, 8, 8)
    assert arrays.max_value == 16
    item = dataset[5]
    assert torch.allclose(item["data"][0], torch.tensor(reference.images[5] / 16.0, dtype=torch.float32))
    assert item["labels"].item() == reference.target[5]


def test_image_folder_reader_sorted_classes(tmp_path):
    written = write_image_folder(tmp_path, {"zebra": 2, "ant": 3})
    files = read_image_folder(tmp_path)
    assert files.class_names == ("ant", "zebra")
    assert files.labels.tolist() == [0, 0, 0, 1, 1]
    assert files.mode == "RGB"
    dataset = files.to_dataset()
    assert isinstance(dataset, InMemoryImageDataset)
    expected = torch.tensor(written[files.paths[3]], dtype=torch.float32).permute(2, 0, 1) / 255
    assert torch.equal(dataset[3]["data"], expected)
    assert dataset.input_dim == (3, 5, 6)


def test_image_folder_greyscale_lazy(tmp_path):
    written = write_image_folder(tmp_path, {"a": 2, "b": 2}, mode="L", extension="PNG")
    files = read_image_folder(tmp_path, lazy=True)
    dataset = files.to_dataset()
    assert isinstance(dataset, LazyImageDataset)
    assert files.mode == "L"
    assert dataset.input_dim == (1, 5, 6)
    expected = torch.tensor(written[files.paths[2]], dtype=torch.float32)[None] / 255
    assert torch.equal(dataset[2]["data"], expected)


def test_celeba_reader_labels_and_crop(tmp_path):
    rows, _ = celeba_fixture(tmp_path)
    train = read_celeba(tmp_path, "mustache", "train")
    assert train.class_names == ("not_Mustache", "Mustache")
    assert train.labels.tolist() == [1, 1, 1, 1, 1, 0, 0]
    assert train.positions.tolist() == list(range(7))

    dataset = train.to_dataset()
    item = dataset[0]
    assert item["data"].shape == (3, 64, 64)
    assert item["data"].dtype == torch.float32
    # The crop keeps only the white 148 x 148 centre; without it the black border would darken the mean.
    assert item["data"].mean() > 0.97

    path = os.path.join(tmp_path, "img_align_celeba", "000001.jpg")
    with Image.open(path) as image:
        by_hand = image.convert("RGB").crop((15, 35, 163, 183)).resize((64, 64), Image.BILINEAR)
    expected = torch.tensor(np.asarray(by_hand), dtype=torch.float32).permute(2, 0, 1) / 255
    assert torch.equal(item["data"], expected)


# Datasets in pythae -----------------------------------------------------------------------------------


def test_dataset_items_for_pythae(tmp_path):
    write_svhn(tmp_path, "train", [3] * 10)
    dataset = read_svhn(tmp_path, "train").to_dataset()
    item = dataset[0]
    assert isinstance(item, DatasetOutput)
    assert item["data"].dtype == torch.float32
    assert item["data"].shape == (3, 32, 32)
    assert item["data"].min() >= 0.0
    assert item["data"].max() <= 1.0
    assert item["labels"].dtype == torch.long
    assert item["labels"].ndim == 0
    assert dataset.images.dtype == torch.uint8

    batch = first_batch(dataset)
    assert batch["data"].shape == (4, 3, 32, 32)
    assert batch["labels"].dtype == torch.long
    assert dataset.labels.dtype == torch.long


@pytest.mark.parametrize("preset", ["digits-lt", "celeba"])
def test_loader_batches_long_labels(tmp_path, preset):
    if preset == "celeba":
        celeba_fixture(tmp_path)
        data = load_preset("celeba-mustache", root=tmp_path)
    else:
        data = load_preset("digits-lt", rho=10)
    batch = first_batch(data.train)
    assert batch["labels"].dtype == torch.long
    assert batch["data"].dtype == torch.float32
    assert tuple(batch["data"].shape[1:]) == data.input_dim


def test_flip_mirrors_half_the_time():
    image = torch.arange(6, dtype=torch.uint8).reshape(1, 1, 2, 3)
    dataset = InMemoryImageDataset(image, [0], ["only"], flip=True)
    torch.manual_seed(0)
    outputs = [dataset[0]["data"] for _ in range(200)]
    mirrored = sum(torch.equal(x, torch.flip(image[0].float() / 255, dims=(-1,))) for x in outputs)
    unchanged = sum(torch.equal(x, image[0].float() / 255) for x in outputs)
    assert mirrored + unchanged == 200
    assert 60 < mirrored < 140


def test_no_flip_without_option():
    image = torch.arange(6, dtype=torch.uint8).reshape(1, 1, 2, 3)
    dataset = InMemoryImageDataset(image, [0], ["only"])
    assert all(torch.equal(dataset[0]["data"], image[0].float() / 255) for _ in range(20))


def test_pipeline_trains_on_preset(tmp_path):
    from pythae.models import VAE, VAEConfig
    from pythae.pipelines import TrainingPipeline
    from pythae.trainers import BaseTrainerConfig

    data = load_preset("digits-lt", rho=8, data_seed=0, n_max=16)
    model = VAE(VAEConfig(input_dim=data.input_dim, latent_dim=2))
    before = [p.detach().clone() for p in model.parameters()]
    config = BaseTrainerConfig(output_dir=str(tmp_path), num_epochs=1, per_device_train_batch_size=4)
    TrainingPipeline(model=model, training_config=config)(train_data=data.train, eval_data=data.test)

    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
    runs = os.listdir(tmp_path)
    assert len(runs) == 1
    assert "final_model" in os.listdir(tmp_path / runs[0])


# Presets ----------------------------------------------------------------------------------------------


def test_list_presets_names():
    names = list_presets()
    for name in [
        "svhn-lt",
        "cifar10-lt",
        "cifar100-lt",
        "mnist-lt",
        "fashion-mnist-lt",
        "digits-lt",
        "imagefolder-lt",
        "celeba",
    ]:
        assert name in names


def test_svhn_preset_crops_then_tails(tmp_path):
    write_svhn(tmp_path, "train", [12, 10, 11, 13, 10, 14, 12, 11, 10, 15])
    write_svhn(tmp_path, "test", [4, 3, 5, 4, 3, 6, 4, 3, 5, 4], seed=1)
    data = load_preset("svhn-lt", root=tmp_path, rho=10, data_seed=0, n_max=None, test_per_class=None)
    assert list(data.manifest["train"]["counts"].values()) == [10, 7, 5, 4, 3, 2, 2, 1, 1, 1]
    assert list(data.manifest["test"]["counts"].values()) == [3] * 10
    assert np.bincount(data.train.labels.numpy()).tolist() == [10, 7, 5, 4, 3, 2, 2, 1, 1, 1]
    assert len(data.test) == 30
    assert data.input_dim == (3, 32, 32)
    assert data.train.flip
    assert not data.test.flip
    assert data.train.manifest is data.manifest


def test_svhn_preset_reproducible_from_seed(tmp_path):
    write_svhn(tmp_path, "train", [12] * 10)
    write_svhn(tmp_path, "test", [3] * 10, seed=1)
    small = {"n_max": None, "test_per_class": None}
    first = load_preset("svhn-lt", root=tmp_path, rho=5, data_seed=7, **small)
    second = load_preset("svhn-lt", root=tmp_path, rho=5, data_seed=7, **small)
    third = load_preset("svhn-lt", root=tmp_path, rho=5, data_seed=8, **small)
    assert first.manifest == second.manifest
    assert torch.equal(first.train.images, second.train.images)
    assert first.manifest["train"]["indices_sha256"] != third.manifest["train"]["indices_sha256"]
    assert first.manifest["train"]["counts"] == third.manifest["train"]["counts"]


def test_svhn_preset_reference_crop(tmp_path):
    write_svhn(tmp_path, "train", [12] * 10)
    write_svhn(tmp_path, "test", [3] * 10, seed=1)
    with pytest.raises(ValueError, match=r"smallest class count 12, got 4656"):
        load_preset("svhn-lt", root=tmp_path, rho=5)


def test_cifar100_preset_counts(tmp_path):
    write_cifar100(tmp_path)
    data = load_preset("cifar100-lt", root=tmp_path, rho=2)
    # 2 * 2^(-k/99) is 2 for k = 0 and lies in [1, 2) for k >= 1.
    assert len(data.train) == 2 + 99
    assert len(data.test) == 100
    assert data.class_names[99] == "class_99"


def test_cifar10_preset_pickles(tmp_path):
    write_cifar10(tmp_path, per_batch=40, test_size=30)
    data = load_preset("cifar10-lt", root=tmp_path, rho=2, n_max=4)
    assert data.manifest["options"] == {"layout": "pickle"}
    assert list(data.manifest["train"]["counts"].values()) == longtail_counts(4, 10, 2)
    assert list(data.manifest["test"]["counts"].values()) == [3] * 10


def test_cifar10_preset_image_folder(tmp_path):
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    write_image_folder(tmp_path / "train", {name: 3 for name in classes}, size=(32, 32), extension="jpg")
    write_image_folder(tmp_path / "test", {name: 2 for name in classes}, size=(32, 32), extension="jpg")
    data = load_preset("cifar10-lt", root=tmp_path, rho=3, class_order=["truck"] + classes[:-1])
    assert data.manifest["options"] == {"layout": "imagefolder"}
    assert data.manifest["class_order"][0] == 9
    assert data.manifest["train"]["counts"]["truck"] == 3
    assert data.manifest["train"]["counts"]["ship"] == 1
    assert data.input_dim == (3, 32, 32)
    assert len(data.test) == 20


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_preset(tmp_path, compress):
    write_mnist(tmp_path, [5, 6, 7, 5, 8, 5, 9, 5, 6, 5], [2] * 10, compress)
    data = load_preset("mnist-lt", root=tmp_path, rho=5)
    assert list(data.manifest["train"]["counts"].values()) == [5, 4, 3, 2, 2, 2, 1, 1, 1, 1]
    assert data.input_dim == (1, 28, 28)


def test_fashion_mnist_preset_names(tmp_path):
    write_mnist(tmp_path, [2] * 10, [1] * 10, compress=True)
    data = load_preset("fashion-mnist-lt", root=tmp_path, rho=2)
    assert data.class_names[0] == "T-shirt/top"
    assert data.class_names[9] == "Ankle boot"


def test_digits_preset_split(tmp_path):
    data = load_preset("digits-lt", rho=10, data_seed=0, test_per_class=20)
    # load_digits' smallest class (digit 8) has 174 images, so 154 remain per class after the test split.
    assert list(data.manifest["train"]["counts"].values()) == longtail_counts(154, 10, 10)
    assert list(data.manifest["test"]["counts"].values()) == [20] * 10
    assert data.input_dim == (1, 8, 8)
    other = load_preset("digits-lt", rho=10, data_seed=1, test_per_class=20)
    assert other.manifest["test"]["indices_sha256"] != data.manifest["test"]["indices_sha256"]


def test_imagefolder_preset_train_test(tmp_path):
    write_image_folder(tmp_path / "train", {"cat": 6, "dog": 4, "eel": 5})
    write_image_folder(tmp_path / "test", {"cat": 3, "dog": 2, "eel": 4}, seed=1)
    data = load_preset("imagefolder-lt", root=tmp_path, rho=4, lazy=True)
    assert isinstance(data.train, LazyImageDataset)
    assert data.manifest["train"]["counts"] == {"cat": 4, "dog": 2, "eel": 1}
    assert data.manifest["test"]["counts"] == {"cat": 2, "dog": 2, "eel": 2}


def test_imagefolder_preset_single_folder(tmp_path):
    write_image_folder(tmp_path, {"cat": 6, "dog": 8})
    data = load_preset("imagefolder-lt", root=tmp_path, rho=2, test_per_class=2, size=3)
    assert data.manifest["test"]["counts"] == {"cat": 2, "dog": 2}
    assert data.manifest["train"]["counts"] == {"cat": 4, "dog": 2}
    assert data.input_dim == (3, 3, 3)


def test_celeba_preset_natural_imbalance(tmp_path):
    celeba_fixture(tmp_path)
    data = load_preset("celeba", root=tmp_path, attribute="Mustache", data_seed=0)
    assert data.manifest["rho"] == 2.5
    assert data.manifest["class_order"] == [1, 0]
    assert data.manifest["train"]["counts"] == {"not_Mustache": 2, "Mustache": 5}
    assert data.manifest["test"]["counts"] == {"not_Mustache": 1, "Mustache": 1}
    assert data.manifest["options"] == {"attribute": "Mustache"}
    assert data.input_dim == (3, 64, 64)
    assert isinstance(data.train, LazyImageDataset)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir(FASHION_MNIST_ROOT), reason="dataset-fashion-mnist is not installed")
def test_fashion_mnist_real_files():
    data = load_preset("fashion-mnist-lt", rho=100)
    assert list(data.manifest["train"]["counts"].values()) == longtail_counts(6000, 10, 100)
    assert len(data.test) == 10000
    assert read_fashion_mnist(FASHION_MNIST_ROOT, "test").images.shape == (10000, 1, 28, 28)


# Errors -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rho", [0.5, 0.0, -3, float("nan"), float("inf")])
def test_invalid_rho_raises(rho):
    with pytest.raises(ValueError, match="rho"):
        longtail_counts(100, 10, rho)
    with pytest.raises(ValueError, match="rho"):
        longtail_indices(balanced_labels(), rho, data_seed=0)


def test_ldam_imb_factor_hint():
    with pytest.raises(ValueError, match="imb_factor"):
        longtail_counts(500, 100, 0.01)


def test_rho_too_large_raises():
    with pytest.raises(ValueError, match=r"rho=101.0 .*n_max=100.*rho <= 100"):
        longtail_counts(100, 10, 101)
    with pytest.raises(ValueError, match="rho=25.0"):
        load_preset("digits-lt", rho=25, test_per_class=150)


@pytest.mark.parametrize("n_max", [0, 21, 2.5])
def test_invalid_n_max_raises(n_max):
    with pytest.raises(ValueError, match="n_max"):
        longtail_indices(balanced_labels(), 2, data_seed=0, n_max=n_max)


def test_invalid_class_order_raises():
    with pytest.raises(ValueError, match="class_order"):
        longtail_indices(balanced_labels(n_classes=3), 2, data_seed=0, class_order=[0, 1, 1])


def test_invalid_data_seed_raises():
    with pytest.raises(ValueError, match="data_seed"):
        longtail_indices(balanced_labels(), 2, data_seed=-1)


def test_unknown_preset_raises():
    with pytest.raises(ValueError, match=r"'cifar1000-lt'.*svhn-lt"):
        load_preset("cifar1000-lt")


def test_unknown_option_raises():
    with pytest.raises(ValueError, match=r"\['colour'\].*test_per_class"):
        load_preset("digits-lt", colour=True)


def test_unknown_class_name_raises(tmp_path):
    write_image_folder(tmp_path / "train", {"cat": 3, "dog": 3})
    write_image_folder(tmp_path / "test", {"cat": 1, "dog": 1})
    with pytest.raises(ValueError, match=r"'cow'.*\['cat', 'dog'\]"):
        load_preset("imagefolder-lt", root=tmp_path, rho=2, class_order=["cow", "cat"])


def test_unknown_celeba_attribute_raises(tmp_path):
    celeba_fixture(tmp_path)
    with pytest.raises(ValueError, match=r"'beard'.*Mustache"):
        load_preset("celeba-beard", root=tmp_path)
    with pytest.raises(ValueError, match="attribute"):
        load_preset("celeba", root=tmp_path)


def test_celeba_rejects_rho(tmp_path):
    celeba_fixture(tmp_path)
    with pytest.raises(ValueError, match="rho=25"):
        load_preset("celeba-mustache", root=tmp_path, rho=25)


def test_missing_root_raises():
    with pytest.raises(ValueError, match="train_32x32.mat"):
        load_preset("svhn-lt")
    with pytest.raises(ValueError, match="root must be None"):
        load_preset("digits-lt", root="/tmp")


@pytest.mark.parametrize(
    "preset, expected",
    [
        ("svhn-lt", r"train_32x32\.mat.*ufldl\.stanford\.edu"),
        ("cifar100-lt", r"cifar-100-python.*cs\.toronto\.edu"),
        ("cifar10-lt", r"batches\.meta.*train"),
        ("mnist-lt", r"train-images-idx3-ubyte.*\.gz"),
        ("celeba-mustache", r"img_align_celeba.*CelebA"),
    ],
)
def test_missing_files_name_path_and_source(tmp_path, preset, expected):
    with pytest.raises(FileNotFoundError, match=expected) as raised:
        load_preset(preset, root=tmp_path)
    assert str(tmp_path) in str(raised.value)


def test_missing_data_folder_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_preset("fashion-mnist-lt", root=tmp_path / "nowhere")


def test_missing_celeba_list_raises(tmp_path):
    celeba_fixture(tmp_path)
    os.remove(tmp_path / "list_eval_partition.txt")
    with pytest.raises(FileNotFoundError, match="list_eval_partition.txt"):
        read_celeba(tmp_path, "Young")


def test_corrupt_mat_raises(tmp_path):
    (tmp_path / "train_32x32.mat").write_bytes(b"not a mat file" * 20)
    with pytest.raises(ValueError, match="train_32x32.mat"):
        read_svhn(tmp_path)


def test_misshaped_mat_raises(tmp_path):
    scipy.io.savemat(
        tmp_path / "train_32x32.mat", {"X": np.zeros((28, 28, 1, 2), np.uint8), "y": np.ones((2, 1))}
    )
    with pytest.raises(ValueError, match=r"train_32x32\.mat.*\(28, 28, 1, 2\)"):
        read_svhn(tmp_path)


def test_corrupt_pickle_raises(tmp_path):
    write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"\x80\x02garbage")
    with pytest.raises(ValueError, match="data_batch_3"):
        read_cifar10(tmp_path)


def test_misshaped_pickle_raises(tmp_path):
    write_cifar100(tmp_path)
    write_pickle(
        tmp_path / "cifar-100-python" / "test",
        {b"data": np.zeros((2, 100), np.uint8), b"fine_labels": [0, 1]},
    )
    with pytest.raises(ValueError, match=r"test.*\(2, 100\)"):
        read_cifar100(tmp_path, "test")


def test_idx_bad_magic_raises(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"\x01\x02\x08\x03" + bytes(20))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.*01 02 08 03"):
        read_idx(path)


def test_idx_truncated_raises(tmp_path):
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(10, dtype=np.uint8))[:-3]))
    with pytest.raises(ValueError, match=r"labels\.gz.*\(10,\).*7 bytes"):
        read_idx(path)


def test_idx_label_count_mismatch_raises(tmp_path):
    write_mnist(tmp_path, [2] * 10, [1] * 10, compress=False)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(5, np.uint8)))
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte.*20 labels"):
        read_mnist(tmp_path)


def test_corrupt_image_raises(tmp_path):
    write_image_folder(tmp_path, {"a": 2})
    (tmp_path / "a" / "001.png").write_bytes(b"no image")
    dataset = read_image_folder(tmp_path, mode="RGB", lazy=True).to_dataset()
    with pytest.raises(ValueError, match="001.png"):
        dataset[1]


def test_mixed_image_sizes_raise(tmp_path):
    write_image_folder(tmp_path, {"a": 1})
    write_image_folder(tmp_path, {"b": 1}, size=(7, 7))
    with pytest.raises(ValueError, match=r"b/000\.png.*size="):
        read_image_folder(tmp_path).to_dataset()


def test_image_smaller_than_crop_raises(tmp_path):
    path = tmp_path / "small.jpg"
    Image.fromarray(np.zeros((100, 120, 3), np.uint8)).save(path)
    with pytest.raises(ValueError, match=r"small\.jpg.*120x100.*148"):
        load_image(str(path), center_crop=148, size=64)


def test_empty_image_folder_raises(tmp_path):
    os.makedirs(tmp_path / "a")
    with pytest.raises(ValueError, match="has no class folders"):
        read_image_folder(tmp_path / "a")
    (tmp_path / "a" / "b").mkdir()
    with pytest.raises(ValueError, match="contains no"):
        read_image_folder(tmp_path / "a")
