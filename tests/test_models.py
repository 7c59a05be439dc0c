"""Tests of the model interface: configs, labels, pythae's calling conventions and numerical safety."""

import copy

import numpy as np
import pytest
import torch
from pythae.data.datasets import BaseDataset, DatasetOutput
from torch.utils.data import Dataset

from pythae_t3cvae import (
    CVAE,
    T3CVAE,
    T3VAE,
    CVAEConfig,
    T3CVAEConfig,
    T3VAEConfig,
    class_counts,
)
from pythae_t3cvae.networks import ConvDecoder, ConvEncoder

CONFIGS = {T3VAE: T3VAEConfig, T3CVAE: T3CVAEConfig, CVAE: CVAEConfig}
CONDITIONAL = [T3CVAE, CVAE]
ALL_MODELS = [T3VAE, T3CVAE, CVAE]


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    # These networks are tiny, so a second intra-op thread only adds synchronisation cost.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def small_model(model_cls, input_dim=(1, 8, 8), **kwargs):
    config_kwargs = dict(input_dim=input_dim, latent_dim=2)
    if model_cls is not T3VAE:
        config_kwargs.update(n_classes=3, class_counts=[3, 2, 1])
    config_kwargs.update(kwargs)
    torch.manual_seed(0)
    return model_cls(CONFIGS[model_cls](**config_kwargs))


def small_batch(batch=6):
    torch.manual_seed(1)
    data = torch.rand(batch, 1, 8, 8)
    labels = torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 2.0])[:batch]
    return data, labels


def seeded_forward(model, inputs, **kwargs):
    torch.manual_seed(2)
    return model(inputs, **kwargs)


# Configs

INVALID_CONFIGS = [
    (T3VAEConfig, dict(nu=2.0), "nu", "nu=2.0"),
    (T3VAEConfig, dict(nu=1.5), "nu", "nu=1.5"),
    (T3CVAEConfig, dict(nu=2.0), "nu", "nu=2.0"),
    (T3CVAEConfig, dict(nu=-3.0), "nu", "nu=-3.0"),
    (T3VAEConfig, dict(sigma=0.0), "sigma", "sigma=0.0"),
    (T3CVAEConfig, dict(sigma=-1.0), "sigma", "sigma=-1.0"),
    (CVAEConfig, dict(sigma=0.0), "sigma", "sigma=0.0"),
    (T3VAEConfig, dict(beta=-0.5), "beta", "beta=-0.5"),
    (T3CVAEConfig, dict(beta=-0.5), "beta", "beta=-0.5"),
    (CVAEConfig, dict(beta=-1e-3), "beta", "beta=-0.001"),
    (CVAEConfig, dict(n_classes=1), "n_classes", "n_classes=1"),
    (T3CVAEConfig, dict(n_classes=0), "n_classes", "n_classes=0"),
    (CVAEConfig, dict(n_classes=3, class_counts=[1, 2]), "class_counts", "[1, 2]"),
    (T3CVAEConfig, dict(n_classes=2, class_counts=[4, 5, 6]), "class_counts", "[4, 5, 6]"),
    (CVAEConfig, dict(n_classes=3, class_counts=[1, 0, 2]), "class_counts", "[1, 0, 2]"),
    (T3CVAEConfig, dict(n_classes=2, class_counts=[-4, 5]), "class_counts", "[-4, 5]"),
    (CVAEConfig, dict(class_weighting="balanced"), "class_weighting", "balanced"),
    (T3CVAEConfig, dict(class_weighting="Uniform"), "class_weighting", "Uniform"),
    (T3CVAEConfig, dict(class_mean_init_std=-1.0), "class_mean_init_std", "class_mean_init_std=-1.0"),
    (T3VAEConfig, dict(latent_dim=0), "latent_dim", "latent_dim=0"),
    (CVAEConfig, dict(network="conv16"), "network", "conv16"),
    (T3VAEConfig, dict(network_width=0.0), "network_width", "network_width=0.0"),
    (T3CVAEConfig, dict(reconstruction_loss="bce"), "reconstruction_loss", "bce"),
]


@pytest.mark.parametrize("config_cls, kwargs, field, shown", INVALID_CONFIGS)
def test_config_invalid_value(config_cls, kwargs, field, shown):
    arguments = dict(input_dim=(1, 8, 8), latent_dim=2)
    arguments.update(kwargs)

    with pytest.raises(ValueError) as error:
        config_cls(**arguments)

    message = str(error.value)
    assert field in message
    assert shown in message


@pytest.mark.parametrize("model_cls", ALL_MODELS)
def test_config_defaults_valid(model_cls):
    config = CONFIGS[model_cls](input_dim=(1, 8, 8), latent_dim=2)

    assert config.sigma == 1.0
    assert config.beta == 1.0


# Labels

INVALID_LABELS = [
    (1.5, "1.5"),
    (0.25, "0.25"),
    (-1.0, "-1"),
    (7.0, "7"),
    (1e10, "10000000000"),
    (float("nan"), "nan"),
    (float("inf"), "inf"),
    (float("-inf"), "-inf"),
]


@pytest.mark.parametrize("model_cls", CONDITIONAL)
@pytest.mark.parametrize("bad_label, shown", INVALID_LABELS)
def test_labels_invalid_value(model_cls, bad_label, shown):
    model = small_model(model_cls)
    data, labels = small_batch()
    labels[4] = bad_label

    with pytest.raises(ValueError) as error:
        model({"data": data, "labels": labels})

    assert shown in str(error.value)


@pytest.mark.parametrize("model_cls", CONDITIONAL)
def test_labels_n_classes_rejected(model_cls):
    # The label n_classes is one past the last class id.
    model = small_model(model_cls)
    data, labels = small_batch()
    labels[4] = 3.0

    with pytest.raises(ValueError, match="got 3"):
        model({"data": data, "labels": labels})


@pytest.mark.parametrize("model_cls", CONDITIONAL)
def test_labels_out_of_range_in_eval_mode(model_cls):
    model = small_model(model_cls).eval()
    data, labels = small_batch()
    labels[0] = 5.0

    with pytest.raises(ValueError, match="5"):
        model({"data": data, "labels": labels})


@pytest.mark.parametrize("model_cls", CONDITIONAL)
def test_labels_missing_in_training(model_cls):
    model = small_model(model_cls).train()
    data, _ = small_batch()

    with pytest.raises(ValueError) as error:
        model(DatasetOutput(data=data))

    message = str(error.value)
    assert "labels" in message
    assert "['data']" in message


@pytest.mark.parametrize("model_cls", CONDITIONAL)
def test_labels_missing_in_eval_gives_no_loss(model_cls):
    model = small_model(model_cls).eval()
    data, _ = small_batch()

    out = model(DatasetOutput(data=data))

    assert out.recon_x.shape == data.shape
    assert out.z.shape == (6, 2)
    assert "loss" not in out


@pytest.mark.parametrize("model_cls", CONDITIONAL)
def test_labels_integer_and_column_shapes(model_cls):
    model = small_model(model_cls)
    data, labels = small_batch()

    as_float = seeded_forward(model, {"data": data, "labels": labels}).loss
    as_long = seeded_forward(model, {"data": data, "labels": labels.long()}).loss
    as_column = seeded_forward(model, {"data": data, "labels": labels[:, None]}).loss

    assert torch.equal(as_long, as_float)
    assert torch.equal(as_column, as_float)


# Label-free helpers work in training mode too.

@pytest.mark.parametrize("model_cls", ALL_MODELS)
@pytest.mark.parametrize("network", [None, "conv8"])
def test_helpers_without_labels(model_cls, network):
    model = small_model(model_cls, network=network, network_width=0.25).train()
    data, _ = small_batch()

    recon = model.reconstruct(data)
    z = model.embed(data)
    line = model.interpolate(data[:2], data[2:4], granularity=5)
    prediction = model.predict(data)

    assert recon.shape == data.shape
    assert z.shape == (6, 2)
    assert line.shape == (2, 5, 1, 8, 8)
    assert prediction.recon_x.shape == data.shape
    assert prediction.embedding.shape == (6, 2)


def test_interpolate_batch_mismatch():
    model = small_model(T3CVAE)
    data, _ = small_batch()

    with pytest.raises(ValueError, match="3 and 2"):
        model.interpolate(data[:3], data[:2])


# pythae's calling conventions

@pytest.mark.parametrize("model_cls", ALL_MODELS)
def test_forward_ignores_trainer_keywords(model_cls):
    model = small_model(model_cls)
    data, labels = small_batch()
    inputs = DatasetOutput(data=data, labels=labels)

    plain = seeded_forward(model, inputs)
    with_keywords = seeded_forward(model, inputs, epoch=3, dataset_size=600, uses_ddp=False)

    assert torch.equal(with_keywords.loss, plain.loss)


@pytest.mark.parametrize("model_cls", ALL_MODELS)
def test_forward_plain_dict_batch(model_cls):
    model = small_model(model_cls)
    data, labels = small_batch()

    from_dataset_output = seeded_forward(model, DatasetOutput(data=data, labels=labels))
    from_dict = seeded_forward(model, {"data": data, "labels": labels})

    assert torch.equal(from_dict.loss, from_dataset_output.loss)
    assert torch.equal(from_dict.recon_x, from_dataset_output.recon_x)


def test_forward_t3vae_without_labels():
    model = small_model(T3VAE).train()
    data, _ = small_batch()

    out = model({"data": data})

    assert torch.isfinite(out.loss)


@pytest.mark.parametrize("model_cls", ALL_MODELS)
def test_forward_float64_model(model_cls):
    model = small_model(model_cls).double()
    data, labels = small_batch()
    data = data.double()

    out = model({"data": data, "labels": labels})

    assert out.loss.dtype == torch.float64
    assert out.z.dtype == torch.float64
    assert torch.isfinite(out.loss)
    assert model.reconstruct(data).dtype == torch.float64


@pytest.mark.parametrize("model_cls", ALL_MODELS)
def test_network_conv8_built(model_cls):
    model = small_model(model_cls, network="conv8", network_width=0.25)

    assert isinstance(model.encoder, ConvEncoder)
    assert isinstance(model.decoder, ConvDecoder)


@pytest.mark.parametrize("network, input_dim", [("conv8", (1, 8, 8)), ("conv32", (3, 32, 32))])
def test_inplace_relu_same_gradients(network, input_dim):
    # Reference: the same model with every ReLU switched back to out of place.
    model = small_model(T3CVAE, input_dim=input_dim, network=network, network_width=0.25).train()
    reference = copy.deepcopy(model)
    relus = [m for m in reference.modules() if isinstance(m, torch.nn.ReLU)]
    assert relus
    assert all(m.inplace for m in relus)
    for relu in relus:
        relu.inplace = False

    torch.manual_seed(4)
    batch = {"data": torch.rand(6, *input_dim), "labels": torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 2.0])}
    losses = []
    for candidate in (model, reference):
        out = seeded_forward(candidate, batch)
        out.loss.backward()
        losses.append(out.loss.detach())

    assert torch.equal(losses[0], losses[1])
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        assert torch.equal(p.grad, q.grad), name


# Numerical safety at 64 x 64 RGB, n = 12288

@pytest.mark.parametrize("model_cls", ALL_MODELS)
@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_conv64_finite_loss_and_gradients(model_cls, precision):
    model = small_model(
        model_cls, input_dim=(3, 64, 64), latent_dim=8, network="conv64", network_width=0.25
    ).train()
    torch.manual_seed(3)
    data = torch.rand(3, 3, 64, 64)
    labels = torch.tensor([0.0, 1.0, 2.0])

    if precision == "bfloat16":
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model({"data": data, "labels": labels})
    else:
        out = model({"data": data, "labels": labels})
    out.loss.backward()

    gradients = [p.grad for p in model.parameters() if p.requires_grad]
    assert out.loss.dtype == torch.float32
    assert torch.isfinite(out.loss)
    assert torch.isfinite(out.recon_loss)
    assert out.reg_loss.item() > 0
    assert all(g is not None for g in gradients)
    assert all(bool(torch.isfinite(g).all()) for g in gradients)


# class_counts

class ItemDataset(Dataset):
    """Dataset without a ``labels`` attribute, whose items carry the label."""

    def __init__(self, labels):
        self._labels = labels

    def __len__(self):
        return len(self._labels)

    def __getitem__(self, index):
        return DatasetOutput(data=torch.zeros(2), labels=self._labels[index])


def test_class_counts_sources():
    rng = np.random.default_rng(0)
    labels = rng.choice(5, size=200, p=[0.5, 0.3, 0.15, 0.05, 0.0])
    expected = [int((labels == k).sum()) for k in range(5)]
    as_float = torch.tensor(labels, dtype=torch.float32)

    assert class_counts(torch.tensor(labels), 5) == expected
    assert class_counts(as_float, 5) == expected
    assert class_counts(BaseDataset(torch.zeros(200, 2), as_float), 5) == expected
    assert class_counts(ItemDataset(as_float), 5) == expected
    assert expected[4] == 0


@pytest.mark.parametrize(
    "bad_label, shown", [(7.0, "7"), (2.5, "2.5"), (-1.0, "-1"), (float("inf"), "inf")]
)
def test_class_counts_invalid_labels(bad_label, shown):
    labels = torch.tensor([0.0, 1.0, bad_label])

    with pytest.raises(ValueError, match=shown):
        class_counts(labels, 5)
