"""ClassMixtureSampler: class-balanced or targeted generation from a T3CVAE or CVAE.

T3CVAE: p*(z) = sum_y w_y t_m(z | mu_y, tau^2 I, nu + n), tau the model's theoretical value by default.
CVAE:   p*(z) = sum_y w_y N(z | mu_y, tau^2 I), tau = 1 by default.
The weights w_y are equal unless given, so every class gets the same share of the samples whatever
its frequency in the training set.
"""

import torch

from ..models import CVAE, T3CVAE
from ..models.distributions import sample_multivariate_t
from ..models.labels import parse_labels
from .base import LatentSampler, as_integer
from .configs import ClassMixtureSamplerConfig, check_weights


class ClassMixtureSampler(LatentSampler):
    """Draw a class y from the mixture weights (or take the requested one), then z around mu_y.

    ``sample(..., class_id=3)`` generates class 3 only; ``sample(..., labels=tensor)`` takes one
    class per sample; ``return_labels=True`` returns the class of every image.
    """

    model_types = (CVAE,)  # T3CVAE is a subclass of CVAE

    def __init__(self, model, sampler_config: ClassMixtureSamplerConfig = None):
        super().__init__(model, sampler_config or ClassMixtureSamplerConfig())
        self.n_classes = model.n_classes
        self.weights = self._normalised_weights(self.sampler_config.weights)

    def _normalised_weights(self, weights) -> torch.Tensor:
        if weights is None:
            return torch.full((self.n_classes,), 1.0 / self.n_classes, device=self.device)
        check_weights(weights)
        if len(weights) != self.n_classes:
            raise ValueError(
                f"weights must have one entry per class (n_classes={self.n_classes}), "
                f"got {len(weights)}: weights={list(weights)!r}"
            )
        weights = torch.tensor(weights, dtype=torch.float64)
        return (weights / weights.sum()).to(torch.float32).to(self.device)

    @property
    def is_student_t(self) -> bool:
        return isinstance(self.model, T3CVAE)

    def draw_labels(self, num_samples, class_id, labels, generator) -> torch.Tensor:
        if class_id is not None and labels is not None:
            raise ValueError("pass either class_id or labels, not both")

        if class_id is not None:
            index = as_integer(class_id)
            if index is None or not 0 <= index < self.n_classes:
                raise ValueError(
                    f"class_id must be an integer in [0, {self.n_classes}), got class_id={class_id!r}"
                )
            class_id = index
            return torch.full((num_samples,), class_id, dtype=torch.long, device=self.device)

        if labels is not None:
            return parse_labels(labels, self.n_classes, batch_size=num_samples).to(self.device)

        return torch.multinomial(self.weights, num_samples, replacement=True, generator=generator)

    def draw_latents(self, labels, num_samples, generator):
        loc = self.model.class_means.detach()[labels]  # (N, m)
        scale = torch.full_like(loc, self.tau)
        if self.is_student_t:
            df = self.model.model_config.nu + self.model.data_dim
            return sample_multivariate_t(loc, scale, df, generator=generator)
        noise = torch.randn(loc.shape, generator=generator, device=loc.device, dtype=loc.dtype)
        return loc + scale * noise
