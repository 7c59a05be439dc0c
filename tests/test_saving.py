"""Tests of saving and reloading the models through their own loader and through pythae's AutoModel."""

import dataclasses
import os

import pytest
import torch
import torch.nn as nn
from pythae.models import AutoModel
from pythae.models.base.base_utils import ModelOutput
from pythae.models.nn import BaseEncoder

import pythae_t3cvae  # noqa: F401  (registers the models with AutoModel)
from pythae_t3cvae import CVAE, T3CVAE, T3VAE, CVAEConfig, T3CVAEConfig, T3VAEConfig

CONFIGS = {T3VAE: T3VAEConfig, T3CVAE: T3CVAEConfig, CVAE: CVAEConfig}
ALL_MODELS = [T3VAE, T3CVAE, CVAE]


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    # These networks are tiny, so a second intra-op thread only adds synchronisation cost.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


class SmallEncoder(BaseEncoder):
    """User-provided encoder, which pythae saves as a pickle file."""

    def __init__(self, data_dim, latent_dim):
        BaseEncoder.__init__(self)
        self.hidden = nn.Linear(data_dim, 16)
        self.mean = nn.Linear(16, latent_dim)
        self.log_var = nn.Linear(16, latent_dim)

    def forward(self, x):
        h = torch.relu(self.hidden(x.flatten(start_dim=1)))
        return ModelOutput(embedding=self.mean(h), log_covariance=self.log_var(h))


def make_config(model_cls, network):
    kwargs = dict(input_dim=(1, 8, 8), latent_dim=3, network=network, network_width=0.25, beta=0.7)
    if model_cls is T3VAE:
        kwargs.update(nu=4.5, sigma=0.8)
    elif model_cls is T3CVAE:
        kwargs.update(nu=6.0, n_classes=4, class_counts=[10, 5, 3, 1], class_mean_init_std=0.5)
    else:
        kwargs.update(n_classes=3, class_weighting="empirical", sigma=1.5)
    return CONFIGS[model_cls](**kwargs)


def perturb(model):
    """Move every parameter and buffer away from its initial value, so a reload cannot match by chance."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(0.1 * torch.randn(tensor.shape, generator=generator))


def assert_same_model(loaded, original):
    assert type(loaded) is type(original)

    expected_state = original.state_dict()
    loaded_state = loaded.state_dict()
    assert sorted(loaded_state) == sorted(expected_state)
    for key, tensor in expected_state.items():
        assert torch.equal(loaded_state[key], tensor), key

    for field in dataclasses.fields(original.model_config):
        expected = getattr(original.model_config, field.name)
        assert getattr(loaded.model_config, field.name) == expected, field.name


def seeded_loss(model, batch):
    model.eval()
    torch.manual_seed(5)
    with torch.no_grad():
        return model(batch).loss


@pytest.mark.parametrize("model_cls", ALL_MODELS)
@pytest.mark.parametrize("network", [None, "conv8"])
def test_save_reload_both_loaders(model_cls, network, tmp_path):
    torch.manual_seed(0)
    model = model_cls(make_config(model_cls, network))
    perturb(model)
    folder = str(tmp_path / "model")
    model.save(folder)
    batch = {"data": torch.rand(4, 1, 8, 8), "labels": torch.tensor([0.0, 1.0, 1.0, 2.0])}

    direct = model_cls.load_from_folder(folder)
    auto = AutoModel.load_from_folder(folder)

    assert not os.path.exists(os.path.join(folder, "encoder.pkl"))
    assert not os.path.exists(os.path.join(folder, "decoder.pkl"))
    assert_same_model(direct, model)
    assert_same_model(auto, model)
    assert torch.equal(seeded_loss(direct, batch), seeded_loss(model, batch))
    assert torch.equal(seeded_loss(auto, batch), seeded_loss(model, batch))


@pytest.mark.parametrize("model_cls", ALL_MODELS)
def test_save_pickled_encoder_requires_opt_in(model_cls, tmp_path):
    config = make_config(model_cls, None)
    torch.manual_seed(0)
    model = model_cls(config, encoder=SmallEncoder(64, config.latent_dim))
    folder = str(tmp_path / "model")
    model.save(folder)

    assert os.path.exists(os.path.join(folder, "encoder.pkl"))
    with pytest.raises(ValueError, match="allow_pickle=True"):
        model_cls.load_from_folder(folder)
    with pytest.raises(ValueError, match="allow_pickle=True"):
        AutoModel.load_from_folder(folder)

    with pytest.warns(UserWarning, match="unpickling"):
        direct = model_cls.load_from_folder(folder, allow_pickle=True)
    with pytest.warns(UserWarning, match="unpickling"):
        auto = AutoModel.load_from_folder(folder, allow_pickle=True)

    assert_same_model(direct, model)
    assert_same_model(auto, model)


def test_save_missing_folder(tmp_path):
    missing = str(tmp_path / "absent")

    with pytest.raises(FileNotFoundError, match="absent"):
        T3CVAE.load_from_folder(missing)
