"""Tests of training the conditional models with pythae's TrainingPipeline on scikit-learn's digits."""

import glob
import os

import pytest
import torch
from pythae.data.datasets import BaseDataset
from pythae.models import AutoModel
from pythae.pipelines import TrainingPipeline
from pythae.trainers import BaseTrainerConfig
from sklearn.datasets import load_digits

from pythae_t3cvae import CVAE, T3CVAE, T3VAE, CVAEConfig, T3CVAEConfig, T3VAEConfig, class_counts
from pythae_t3cvae.networks import ConvEncoder

N_IMAGES = 300
N_EPOCHS = 3


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    # These networks are tiny, so a second intra-op thread only adds synchronisation cost.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def digits():
    """The first N_IMAGES 8 x 8 digits as floats in [0, 1], with float32 labels, as pythae's BaseDataset."""
    bunch = load_digits()
    data = torch.tensor(bunch.images[:N_IMAGES] / 16.0, dtype=torch.float32).unsqueeze(1)
    labels = torch.tensor(bunch.target[:N_IMAGES], dtype=torch.float32)
    return BaseDataset(data, labels)


def dataset_loss(model, dataset):
    """Return the loss of the whole dataset in eval mode, with a fixed posterior draw."""
    model.eval()
    torch.manual_seed(0)
    with torch.no_grad():
        return model({"data": dataset.data, "labels": dataset.labels}).loss.item()


def mean_pairwise_distance(class_means):
    return torch.pdist(class_means.detach()).mean().item()


def train(model, dataset, output_dir):
    config = BaseTrainerConfig(
        output_dir=str(output_dir), num_epochs=N_EPOCHS, learning_rate=1e-3, per_device_train_batch_size=32
    )
    TrainingPipeline(model=model, training_config=config)(train_data=dataset)


@pytest.mark.parametrize("model_cls", [T3CVAE, CVAE])
@pytest.mark.parametrize("network", [None, "conv8"])
def test_training_lowers_loss_separates_classes(model_cls, network, digits, tmp_path):
    config_cls = T3CVAEConfig if model_cls is T3CVAE else CVAEConfig
    config = config_cls(
        input_dim=(1, 8, 8), latent_dim=2, n_classes=10, class_counts=class_counts(digits, 10),
        class_mean_init_std=0.0, network=network, network_width=0.25,
    )
    torch.manual_seed(0)
    model = model_cls(config)
    loss_before = dataset_loss(model, digits)
    distance_before = mean_pairwise_distance(model.class_means)

    train(model, digits, tmp_path)

    assert distance_before == 0.0
    assert dataset_loss(model, digits) < loss_before
    assert mean_pairwise_distance(model.class_means) > 1e-3
    if network == "conv8":
        assert isinstance(model.encoder, ConvEncoder)


def test_training_t3vae_lowers_loss(digits, tmp_path):
    torch.manual_seed(0)
    model = T3VAE(T3VAEConfig(input_dim=(1, 8, 8), latent_dim=2))
    loss_before = dataset_loss(model, digits)

    train(model, digits, tmp_path)

    assert dataset_loss(model, digits) < loss_before


def test_training_final_model_reloads(digits, tmp_path):
    config = T3CVAEConfig(
        input_dim=(1, 8, 8), latent_dim=2, n_classes=10, class_counts=class_counts(digits, 10),
        network="conv8", network_width=0.25,
    )
    torch.manual_seed(0)
    model = T3CVAE(config)

    train(model, digits, tmp_path)
    folders = glob.glob(os.path.join(str(tmp_path), "T3CVAE_training_*", "final_model"))
    reloaded = AutoModel.load_from_folder(folders[0])

    assert len(folders) == 1
    assert isinstance(reloaded, T3CVAE)
    assert torch.equal(reloaded.class_means, model.class_means.detach())
