"""Tests of the losses of T3VAE, T3CVAE and CVAE against the formulas, evaluated by hand in float64.

The models get tiny networks with known outputs: an encoder that returns preset mu and log_var, and a
decoder tanh(z W + b). The expected per-sample losses are written out in numpy from the returned z,
with the t3 constants computed here from scipy.special.gammaln.
"""

import math
import warnings

import numpy as np
import pytest
import torch
from pythae.models.base.base_utils import ModelOutput
from pythae.models.nn import BaseDecoder, BaseEncoder
from scipy import special

from pythae_t3cvae import CVAE, T3CVAE, T3VAE, CVAEConfig, T3CVAEConfig, T3VAEConfig


class FixedEncoder(BaseEncoder):
    """Encoder that ignores its input and returns preset mu and log_var, one row per sample."""

    def __init__(self, mu, log_var):
        BaseEncoder.__init__(self)
        self.register_buffer("mu", torch.as_tensor(mu, dtype=torch.float32))
        self.register_buffer("log_var", torch.as_tensor(log_var, dtype=torch.float32))

    def forward(self, x):
        if x.shape[0] != self.mu.shape[0]:
            raise ValueError(
                f"FixedEncoder has {self.mu.shape[0]} rows, but the batch has {x.shape[0]} samples"
            )
        return ModelOutput(embedding=self.mu, log_covariance=self.log_var)


class TanhDecoder(BaseDecoder):
    """Decoder tanh(z W + b), reshaped to the data shape, with fixed W and b."""

    def __init__(self, weight, bias, data_shape):
        BaseDecoder.__init__(self)
        self.register_buffer("weight", torch.as_tensor(weight, dtype=torch.float32))
        self.register_buffer("bias", torch.as_tensor(bias, dtype=torch.float32))
        self.data_shape = tuple(data_shape)

    def forward(self, z):
        out = torch.tanh(z @ self.weight + self.bias)
        return ModelOutput(reconstruction=out.reshape(z.shape[0], *self.data_shape))


def hand_constants(nu, n, m, sigma):
    """Return (tau_b^2, C_bar) of the t3VAE loss, from scipy.special.gammaln."""
    log_c = special.gammaln((nu + n) / 2) - special.gammaln(nu / 2) - n / 2 * math.log(nu * math.pi)
    log_b = log_c - n * math.log(sigma) - math.log(1 + n / (nu - 2))
    tau_b_sq = math.exp(2 / (nu + n - 2) * log_b)
    c_bar = (1 + m / (nu + n - 2)) * math.exp(2 / (nu + m + n - 2) * log_b)
    return tau_b_sq, c_bar


def hand_recon(x, z, weight, bias, sigma):
    """Return |x - tanh(z W + b)|^2 / sigma^2 per sample."""
    decoded = np.tanh(z @ weight + bias)
    return ((x.reshape(x.shape[0], -1) - decoded) ** 2).sum(axis=1) / sigma**2


def hand_t3_regulariser(mu, log_var, loc, nu, n, sigma):
    """Return the t3 regulariser per sample, written out term by term.

        |mu - loc|^2 + nu/(nu+n-2) tr Sigma - nu C_bar |Sigma|^(1/(nu+m+n-2)) + nu tau_b^2
    """
    m = mu.shape[1]
    tau_b_sq, c_bar = hand_constants(nu, n, m, sigma)
    mean_term = ((mu - loc) ** 2).sum(axis=1)
    trace = np.exp(log_var).sum(axis=1)
    det_power = np.exp(log_var.sum(axis=1) / (nu + m + n - 2))
    return mean_term + nu / (nu + n - 2) * trace - nu * c_bar * det_power + nu * tau_b_sq


def hand_gaussian_regulariser(mu, log_var, loc):
    """Return |mu - loc|^2 + sum_j (s_j - log s_j - 1) per sample."""
    s = np.exp(log_var)
    return ((mu - loc) ** 2).sum(axis=1) + (s - log_var - 1).sum(axis=1)


def build_model(model_cls, config, mu, log_var, weight, bias):
    encoder = FixedEncoder(mu, log_var)
    decoder = TanhDecoder(weight, bias, config.input_dim)
    return model_cls(config, encoder=encoder, decoder=decoder)


def fixed_draw(mu, log_var):
    """Posterior draw replaced by its location, so that the loss is deterministic."""
    return mu


# One batch with every class present and imbalanced counts (5, 2, 1).
LABELS = np.array([0, 0, 1, 0, 2, 0, 1, 0])
N_CLASSES = 3


def make_batch(input_dim, latent_dim, seed):
    rng = np.random.default_rng(seed)
    n = int(np.prod(input_dim))
    batch = len(LABELS)
    return dict(
        x=rng.uniform(-1, 1, size=(batch, *input_dim)),
        mu=rng.normal(size=(batch, latent_dim)),
        log_var=0.5 * rng.normal(size=(batch, latent_dim)),
        weight=rng.normal(size=(latent_dim, n)) / math.sqrt(latent_dim),
        bias=0.1 * rng.normal(size=n),
        class_means=rng.normal(size=(N_CLASSES, latent_dim)),
    )


def run(model, x, labels=None):
    inputs = {"data": torch.as_tensor(x, dtype=torch.float32)}
    if labels is not None:
        inputs["labels"] = torch.as_tensor(labels, dtype=torch.float32)
    with torch.no_grad():
        return model(inputs)


@pytest.mark.parametrize("input_dim", [(6,), (3, 32, 32)])
def test_t3vae_loss_matches_formula(input_dim):
    nu, sigma, beta, m = 5.0, 0.7, 0.6, 3
    case = make_batch(input_dim, m, seed=1)
    config = T3VAEConfig(input_dim=input_dim, latent_dim=m, nu=nu, sigma=sigma, beta=beta)
    model = build_model(T3VAE, config, case["mu"], case["log_var"], case["weight"], case["bias"])

    out = run(model, case["x"])

    z = out.z.double().numpy()
    n = int(np.prod(input_dim))
    recon = hand_recon(case["x"], z, case["weight"], case["bias"], sigma)
    reg = hand_t3_regulariser(case["mu"], case["log_var"], 0.0, nu, n, sigma)
    assert out.recon_loss.item() == pytest.approx(recon.mean(), rel=1e-5)
    assert out.reg_loss.item() == pytest.approx(reg.mean(), rel=1e-5)
    assert out.loss.item() == pytest.approx(recon.mean() + beta * reg.mean(), rel=1e-5)


@pytest.mark.parametrize("model_cls", [T3CVAE, CVAE])
@pytest.mark.parametrize("input_dim", [(6,), (3, 32, 32)])
def test_conditional_loss_matches_formula(model_cls, input_dim):
    nu, sigma, beta, m = 4.0, 1.3, 2.0, 3
    counts = [40, 25, 5]
    case = make_batch(input_dim, m, seed=2)
    extra = dict(nu=nu) if model_cls is T3CVAE else {}
    config_cls = T3CVAEConfig if model_cls is T3CVAE else CVAEConfig
    config = config_cls(
        input_dim=input_dim, latent_dim=m, sigma=sigma, beta=beta, n_classes=N_CLASSES,
        class_counts=counts, **extra,
    )
    model = build_model(model_cls, config, case["mu"], case["log_var"], case["weight"], case["bias"])
    model.class_means.data = torch.as_tensor(case["class_means"], dtype=torch.float32)

    out = run(model, case["x"], LABELS)

    z = out.z.double().numpy()
    n = int(np.prod(input_dim))
    loc = case["class_means"][LABELS]
    recon = hand_recon(case["x"], z, case["weight"], case["bias"], sigma)
    if model_cls is T3CVAE:
        reg = hand_t3_regulariser(case["mu"], case["log_var"], loc, nu, n, sigma)
    else:
        reg = hand_gaussian_regulariser(case["mu"], case["log_var"], loc)
    # Uniform class weighting with training-set counts N_y: weight N / (K N_y).
    weights = sum(counts) / (N_CLASSES * np.array(counts, dtype=float))[LABELS]
    expected_recon = (weights * recon).mean()
    expected_reg = (weights * reg).mean()
    assert out.recon_loss.item() == pytest.approx(expected_recon, rel=1e-5)
    assert out.reg_loss.item() == pytest.approx(expected_reg, rel=1e-5)
    assert out.loss.item() == pytest.approx(expected_recon + beta * expected_reg, rel=1e-5)


# The regulariser's minimum: zero at mu = class mean and Sigma = tau_b^2 I (t3) or Sigma = I (Gaussian).

def minimum_log_var(model_cls, nu, n, m):
    if model_cls is CVAE:
        return 0.0
    tau_b_sq, _ = hand_constants(nu, n, m, 1.0)
    return math.log(tau_b_sq)


def regulariser_model(model_cls, input_dim, m, nu, mu, log_var):
    n = int(np.prod(input_dim))
    weight, bias = np.zeros((m, n)), np.zeros(n)
    if model_cls is T3VAE:
        config = T3VAEConfig(input_dim=input_dim, latent_dim=m, nu=nu)
    elif model_cls is T3CVAE:
        config = T3CVAEConfig(
            input_dim=input_dim, latent_dim=m, nu=nu, n_classes=N_CLASSES, class_weighting="empirical"
        )
    else:
        config = CVAEConfig(
            input_dim=input_dim, latent_dim=m, n_classes=N_CLASSES, class_weighting="empirical"
        )
    return build_model(model_cls, config, mu, log_var, weight, bias)


def zero_tolerance(model_cls, nu, n, m):
    # float32 rounding of the terms nu C_bar |Sigma|^p and nu tau_b^2, which cancel at the minimum.
    scale = 1.0 if model_cls is CVAE else nu * hand_constants(nu, n, m, 1.0)[0]
    return 1e-6 * scale * m


REGULARISER_CASES = [
    (T3VAE, (1, 8, 8), 10.0),
    (T3VAE, (3, 32, 32), 3.0),
    (T3CVAE, (1, 8, 8), 10.0),
    (T3CVAE, (3, 32, 32), 10.0),
    (T3CVAE, (3, 64, 64), 10.0),
    (CVAE, (1, 8, 8), 10.0),
]


@pytest.mark.parametrize("model_cls, input_dim, nu", REGULARISER_CASES)
def test_regulariser_zero_at_minimum(model_cls, input_dim, nu):
    m = 4
    n = int(np.prod(input_dim))
    rng = np.random.default_rng(3)
    class_means = rng.normal(size=(N_CLASSES, m))
    labels = np.arange(N_CLASSES)
    loc = np.zeros((N_CLASSES, m)) if model_cls is T3VAE else class_means
    log_var = np.full((N_CLASSES, m), minimum_log_var(model_cls, nu, n, m))
    model = regulariser_model(model_cls, input_dim, m, nu, loc, log_var)
    if model_cls is not T3VAE:
        model.class_means.data = torch.as_tensor(class_means, dtype=torch.float32)

    out = run(model, np.zeros((N_CLASSES, *input_dim)), labels)

    assert abs(out.reg_loss.item()) < zero_tolerance(model_cls, nu, n, m)


@pytest.mark.parametrize("model_cls, input_dim, nu", REGULARISER_CASES)
def test_regulariser_positive_elsewhere(model_cls, input_dim, nu):
    m = 4
    n = int(np.prod(input_dim))
    rng = np.random.default_rng(4)
    class_means = rng.normal(size=(N_CLASSES, m))
    log_var_min = minimum_log_var(model_cls, nu, n, m)
    tolerance = zero_tolerance(model_cls, nu, n, m)

    # Random points, then moves along single directions: mean only, isotropic scale, anisotropic scale
    # with the determinant of the minimum.
    points = [(rng.normal(scale=0.5, size=m), rng.normal(scale=0.7, size=m)) for _ in range(8)]
    points += [
        (np.full(m, 0.3), np.zeros(m)),
        (np.zeros(m), np.full(m, 0.7)),
        (np.zeros(m), np.full(m, -0.7)),
        (np.zeros(m), np.array([0.8, -0.8, 0.5, -0.5])),
    ]
    for mean_offset, log_var_offset in points:
        label = int(rng.integers(N_CLASSES))
        centre = np.zeros(m) if model_cls is T3VAE else class_means[label]
        mu = (centre + mean_offset)[None]
        log_var = (log_var_min + log_var_offset)[None]
        model = regulariser_model(model_cls, input_dim, m, nu, mu, log_var)
        if model_cls is not T3VAE:
            model.class_means.data = torch.as_tensor(class_means, dtype=torch.float32)

        out = run(model, np.zeros((1, *input_dim)), [label])

        assert out.reg_loss.item() > tolerance, (mean_offset, log_var_offset)


# Class weighting on a fixed imbalanced batch, with the posterior draw fixed to mu.

def weighting_case(model_cls, monkeypatch, labels=LABELS, **config_kwargs):
    """Return the model output, the hand-computed per-sample recon and reg terms, and beta."""
    input_dim, m, nu, beta = (2, 3), 2, 6.0, 0.8
    case = make_batch(input_dim, m, seed=5)
    batch = len(labels)
    extra = dict(nu=nu) if model_cls is T3CVAE else {}
    config_cls = T3CVAEConfig if model_cls is T3CVAE else CVAEConfig
    config = config_cls(
        input_dim=input_dim, latent_dim=m, beta=beta, n_classes=N_CLASSES, **extra, **config_kwargs
    )
    mu, log_var = case["mu"][:batch], case["log_var"][:batch]
    model = build_model(model_cls, config, mu, log_var, case["weight"], case["bias"])
    model.class_means.data = torch.as_tensor(case["class_means"], dtype=torch.float32)
    monkeypatch.setattr(model, "sample_posterior", fixed_draw)

    out = run(model, case["x"][:batch], labels)

    loc = case["class_means"][labels]
    recon = hand_recon(case["x"][:batch], mu, case["weight"], case["bias"], 1.0)
    if model_cls is T3CVAE:
        reg = hand_t3_regulariser(mu, log_var, loc, nu, int(np.prod(input_dim)), 1.0)
    else:
        reg = hand_gaussian_regulariser(mu, log_var, loc)
    return out, recon, reg, beta


def class_mean_of_means(values, labels):
    """Return the mean over the classes present in ``labels`` of each class's mean value."""
    return np.mean([values[labels == k].mean() for k in np.unique(labels)])


@pytest.mark.parametrize("model_cls", [T3CVAE, CVAE])
def test_weighting_uniform_with_batch_counts(model_cls, monkeypatch):
    counts = np.bincount(LABELS, minlength=N_CLASSES).tolist()
    out, recon, reg, beta = weighting_case(model_cls, monkeypatch, class_counts=counts)

    expected_recon = class_mean_of_means(recon, LABELS)
    expected_reg = class_mean_of_means(reg, LABELS)
    assert out.recon_loss.item() == pytest.approx(expected_recon, rel=1e-5)
    assert out.reg_loss.item() == pytest.approx(expected_reg, rel=1e-5)
    assert out.loss.item() == pytest.approx(expected_recon + beta * expected_reg, rel=1e-5)
    # The balanced value differs from the plain mean, so the check above can tell them apart.
    assert abs(expected_recon + beta * expected_reg - (recon + beta * reg).mean()) > 1e-2


@pytest.mark.parametrize("model_cls", [T3CVAE, CVAE])
def test_weighting_uniform_with_dataset_counts(model_cls, monkeypatch):
    # Training-set counts, not the batch's: sample i weighs N / (K N_{y_i}).
    counts = [100, 10, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no batch-level fallback warning when class_counts is set
        out, recon, reg, beta = weighting_case(model_cls, monkeypatch, class_counts=counts)

    weights = sum(counts) / (N_CLASSES * np.array(counts, dtype=float))[LABELS]
    expected = (weights * recon).mean() + beta * (weights * reg).mean()
    batch_balanced = class_mean_of_means(recon + beta * reg, LABELS)
    assert out.loss.item() == pytest.approx(expected, rel=1e-5)
    assert abs(expected - batch_balanced) > 1e-2


@pytest.mark.parametrize("model_cls", [T3CVAE, CVAE])
@pytest.mark.parametrize(
    "labels", [LABELS, np.array([0, 0, 0, 2, 0, 2])], ids=["all_classes", "class_missing"]
)
def test_weighting_uniform_batch_fallback(model_cls, labels, monkeypatch):
    with pytest.warns(UserWarning, match="class_counts is not set"):
        out, recon, reg, beta = weighting_case(model_cls, monkeypatch, labels=labels, class_counts=None)

    expected_recon = class_mean_of_means(recon, labels)
    expected_reg = class_mean_of_means(reg, labels)
    assert out.recon_loss.item() == pytest.approx(expected_recon, rel=1e-5)
    assert out.reg_loss.item() == pytest.approx(expected_reg, rel=1e-5)
    assert out.loss.item() == pytest.approx(expected_recon + beta * expected_reg, rel=1e-5)


@pytest.mark.parametrize("model_cls", [T3CVAE, CVAE])
def test_weighting_fallback_warns_once(model_cls):
    config_cls = T3CVAEConfig if model_cls is T3CVAE else CVAEConfig
    model = model_cls(config_cls(input_dim=(4,), latent_dim=2, n_classes=N_CLASSES))
    inputs = {"data": torch.rand(6, 4), "labels": torch.tensor([0.0, 1.0, 1.0, 2.0, 2.0, 2.0])}

    with warnings.catch_warnings(record=True) as first:
        warnings.simplefilter("always")
        model(inputs)
    with warnings.catch_warnings(record=True) as later:
        warnings.simplefilter("always")
        model(inputs)
        model(inputs)

    assert len([w for w in first if "class_counts" in str(w.message)]) == 1
    assert [w for w in later if "class_counts" in str(w.message)] == []


@pytest.mark.parametrize("model_cls", [T3CVAE, CVAE])
@pytest.mark.parametrize("counts", [None, [100, 10, 1]], ids=["no_counts", "counts"])
def test_weighting_empirical_plain_mean(model_cls, counts, monkeypatch):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, recon, reg, beta = weighting_case(
            model_cls, monkeypatch, class_weighting="empirical", class_counts=counts
        )

    assert out.recon_loss.item() == pytest.approx(recon.mean(), rel=1e-5)
    assert out.reg_loss.item() == pytest.approx(reg.mean(), rel=1e-5)
    assert out.loss.item() == pytest.approx(recon.mean() + beta * reg.mean(), rel=1e-5)
