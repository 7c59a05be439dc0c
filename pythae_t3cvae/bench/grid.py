"""The model grid of the comparison: eight models, each built for a dataset from a few settings.

    VAE, beta-VAE            pythae's VAE / BetaVAE, Gaussian prior N(0, I), generation N(0, I)
    C-VAE, beta-C-VAE        CVAE, per-class Gaussian priors, class-balanced generation
    t3VAE, beta-t3VAE        T3VAE, Student's t prior, generation t_m(0, tau^2 I, nu + n)
    C-t3VAE, beta-C-t3VAE    T3CVAE, per-class Student's t priors, class-balanced generation

All of them use the same named encoder/decoder pair, so only the prior and the loss differ.
"""

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence

from pythae.models import VAE, BetaVAE, BetaVAEConfig, VAEConfig

from ..models import CVAE, T3CVAE, T3VAE, CVAEConfig, T3CVAEConfig, T3VAEConfig
from ..networks import build_networks


@dataclass(frozen=True)
class GridSettings:
    """Settings shared by every model of one experiment."""

    input_dim: Sequence[int]
    latent_dim: int
    n_classes: int
    class_counts: Sequence[int]
    network: str
    network_width: float = 1.0
    nu: float = 10.0
    beta: float = 0.25


@dataclass(frozen=True)
class GridModel:
    """One row of the comparison table."""

    name: str
    #: "gaussian" (pythae prior N(0, I)), "t3" (T3Sampler) or "mixture" (ClassMixtureSampler)
    sampling: str
    build: Callable[[GridSettings], object]
    #: True for the beta variants, which use GridSettings.beta
    beta_variant: bool = False

    @property
    def conditional(self) -> bool:
        return self.sampling == "mixture"


def _pythae_vae(settings: GridSettings, beta: Optional[float]):
    encoder, decoder = build_networks(
        settings.network, settings.input_dim, settings.latent_dim, settings.network_width
    )
    if beta is None:
        return VAE(VAEConfig(input_dim=tuple(settings.input_dim), latent_dim=settings.latent_dim), encoder, decoder)
    config = BetaVAEConfig(input_dim=tuple(settings.input_dim), latent_dim=settings.latent_dim, beta=beta)
    return BetaVAE(config, encoder, decoder)


def _common(settings: GridSettings, beta: float) -> dict:
    return dict(
        input_dim=tuple(settings.input_dim),
        latent_dim=settings.latent_dim,
        beta=beta,
        network=settings.network,
        network_width=settings.network_width,
    )


def _conditional(settings: GridSettings) -> dict:
    return dict(n_classes=settings.n_classes, class_counts=list(settings.class_counts))


# NOTE: pythae's VAE loss is 0.5 * squared error + KL; this package's losses are squared error +
# 2 beta KL (or the t3 regulariser), i.e. twice a beta-weighted pythae loss, so beta means the same.
GRID: Dict[str, GridModel] = {
    model.name: model
    for model in (
        GridModel("VAE", "gaussian", lambda s: _pythae_vae(s, None)),
        GridModel("beta-VAE", "gaussian", lambda s: _pythae_vae(s, s.beta), beta_variant=True),
        GridModel("C-VAE", "mixture", lambda s: CVAE(CVAEConfig(**_common(s, 1.0), **_conditional(s)))),
        GridModel(
            "beta-C-VAE", "mixture",
            lambda s: CVAE(CVAEConfig(**_common(s, s.beta), **_conditional(s))), beta_variant=True,
        ),
        GridModel("t3VAE", "t3", lambda s: T3VAE(T3VAEConfig(**_common(s, 1.0), nu=s.nu))),
        GridModel(
            "beta-t3VAE", "t3", lambda s: T3VAE(T3VAEConfig(**_common(s, s.beta), nu=s.nu)), beta_variant=True,
        ),
        GridModel(
            "C-t3VAE", "mixture",
            lambda s: T3CVAE(T3CVAEConfig(**_common(s, 1.0), **_conditional(s), nu=s.nu)),
        ),
        GridModel(
            "beta-C-t3VAE", "mixture",
            lambda s: T3CVAE(T3CVAEConfig(**_common(s, s.beta), **_conditional(s), nu=s.nu)),
            beta_variant=True,
        ),
    )
}

MODEL_NAMES = tuple(GRID)


def select_models(names: Sequence[str]) -> list:
    """Return the grid entries named in ``names`` (in grid order), rejecting unknown names."""
    unknown = [name for name in names if name not in GRID]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; choose from {list(MODEL_NAMES)}")
    return [GRID[name] for name in MODEL_NAMES if name in names]
