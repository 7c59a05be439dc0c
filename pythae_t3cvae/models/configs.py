"""Configurations of T3VAE, CVAE and T3CVAE: pydantic dataclasses validated at construction.

Each field has a default and a documented range; an invalid value raises ``ValueError`` naming the
field, the allowed range and the value given. ``beta`` other than 1 gives the beta variants
(beta-t3VAE, beta-C-VAE, beta-C-t3VAE).
"""

import math
from typing import List, Optional

from pydantic.dataclasses import dataclass
from pythae.models import VAEConfig
from typing_extensions import Literal

from ..networks import NETWORK_NAMES


def _check_number(field: str, value: float, allowed: str, ok: bool) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and ok):
        raise ValueError(f"{field} must be {allowed}, got {field}={value!r}")


def _check_common(config) -> None:
    _check_number("sigma", config.sigma, "a finite number > 0", config.sigma > 0)
    _check_number("beta", config.beta, "a finite number >= 0", config.beta >= 0)
    _check_number("network_width", config.network_width, "a finite number > 0", config.network_width > 0)
    if config.latent_dim < 1:
        raise ValueError(f"latent_dim must be an integer >= 1, got latent_dim={config.latent_dim!r}")
    if config.reconstruction_loss != "mse":
        raise ValueError(
            "reconstruction_loss must be 'mse' (the squared error / sigma^2 of the model's likelihood), "
            f"got reconstruction_loss={config.reconstruction_loss!r}"
        )
    if config.network is not None and config.network not in NETWORK_NAMES:
        raise ValueError(
            f"network must be None or one of {list(NETWORK_NAMES)}, got network={config.network!r}"
        )


def _check_nu(config) -> None:
    _check_number("nu", config.nu, "a finite number > 2", config.nu > 2)


def _check_conditional(config) -> None:
    if config.n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got n_classes={config.n_classes!r}")
    if config.class_weighting not in ("uniform", "empirical"):
        raise ValueError(
            "class_weighting must be 'uniform' or 'empirical', "
            f"got class_weighting={config.class_weighting!r}"
        )
    _check_number(
        "class_mean_init_std", config.class_mean_init_std, "a finite number >= 0",
        config.class_mean_init_std >= 0,
    )

    counts = config.class_counts
    if counts is None:
        return
    if len(counts) != config.n_classes:
        raise ValueError(
            f"class_counts must have n_classes={config.n_classes} entries, got {len(counts)}: "
            f"class_counts={counts!r}; compute them with pythae_t3cvae.class_counts(dataset, n_classes)"
        )
    bad = [c for c in counts if c <= 0]
    if bad:
        raise ValueError(
            f"class_counts must be positive training-set counts, got class_counts={counts!r} "
            f"(non-positive entries: {bad})"
        )


@dataclass
class T3VAEConfig(VAEConfig):
    """t3VAE configuration.

    Parameters:
        input_dim (tuple): shape of one data point, e.g. (3, 32, 32).
        latent_dim (int): m, the latent dimension. Default: 10.
        nu (float): degrees of freedom of the Student's t prior, > 2. Default: 10.
        sigma (float): decoder scale, > 0; the squared error is divided by sigma^2. Default: 1.
        beta (float): weight of the regulariser, >= 0; beta != 1 gives beta-t3VAE. Default: 1.
        network (str or None): name of one of this package's encoder/decoder pairs ("conv8",
            "conv28", "conv32", "conv64"), built when no encoder/decoder is passed and saved by
            name, so the model reloads without pickle. None uses pythae's MLP or the networks
            passed to the model. Default: None.
        network_width (float): channel multiplier of the named network. Default: 1.
    """

    nu: float = 10.0
    sigma: float = 1.0
    beta: float = 1.0
    network: Optional[str] = None
    network_width: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        _check_nu(self)
        _check_common(self)


@dataclass
class CVAEConfig(VAEConfig):
    """C-VAE configuration: Gaussian prior N(mu_y, I) per class with a learnable class mean mu_y.

    Parameters:
        input_dim, latent_dim, sigma, beta, network, network_width: as in :class:`T3VAEConfig`.
        n_classes (int): K, the number of classes, >= 2. Default: 10.
        class_weighting ("uniform" or "empirical"): "uniform" weights every class equally,
            (1/K) sum_y E_{x|y}[loss]; "empirical" takes the plain mean over samples, so frequent
            classes dominate. Default: "uniform".
        class_counts (list of int or None): training-set count of every class, used by the uniform
            weighting N / (K N_y). None falls back to weights from each batch's own counts, which
            are noisier and differ between distributed ranks (a warning says so). Default: None.
        class_mean_init_std (float): class means start as independent N(0, std^2) draws (0 starts
            them all at the origin). Default: 1.
    """

    sigma: float = 1.0
    beta: float = 1.0
    network: Optional[str] = None
    network_width: float = 1.0
    n_classes: int = 10
    class_weighting: Literal["uniform", "empirical"] = "uniform"
    class_counts: Optional[List[int]] = None
    class_mean_init_std: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        _check_common(self)
        _check_conditional(self)


@dataclass
class T3CVAEConfig(CVAEConfig):
    """C-t3VAE configuration: one Student's t prior t_m(mu_y, I, nu) per class.

    Parameters:
        nu (float): degrees of freedom, > 2. Default: 10.
        Every other field is as in :class:`CVAEConfig`.
    """

    nu: float = 10.0

    def __post_init__(self):
        super().__post_init__()
        _check_nu(self)
