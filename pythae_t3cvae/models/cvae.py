"""C-VAE: the Gaussian class-conditional baseline, and the class machinery C-t3VAE shares.

    prior        p(z | y) = N(mu_y, I), mu_y a learnable row of ``class_means`` (K x m)
    posterior    q(z | x) = N(mu_phi(x), Sigma_phi(x)); the encoder and decoder take no label
    loss         |x - mu_theta(z)|^2 / sigma^2 + beta * (|mu_phi - mu_y|^2 + sum_j (s_j - log s_j - 1))
                 i.e. reconstruction + 2 beta KL, averaged with uniform class weighting
    generation   y uniform, z ~ N(mu_y, tau^2 I), tau = 1 by default   (ClassMixtureSampler)

Uniform class weighting targets (1/K) sum_y E_{x|y}[loss]: sample i gets weight N / (K N_{y_i}) with
N_y the training-set class counts (``class_counts``), so head classes do not dominate the gradient.
"""

import warnings

import torch
import torch.nn as nn

from .base import LatentPriorVAE
from .configs import CVAEConfig
from .labels import parse_labels
from .losses import batch_balanced_weights, dataset_balanced_weights, gaussian_regulariser


class CVAE(LatentPriorVAE):
    """C-VAE as a pythae model; see the module docstring for the formulas.

    Args:
        model_config (CVAEConfig): the configuration.
        encoder, decoder: pythae networks; None builds ``model_config.network`` when set, else
            pythae's default MLPs.

    Attributes:
        class_means (nn.Parameter): mu_y, shape (n_classes, latent_dim), initialised with
            independent N(0, class_mean_init_std^2) entries.
    """

    conditional = True

    def __init__(self, model_config: CVAEConfig, encoder=None, decoder=None):
        super().__init__(model_config, encoder=encoder, decoder=decoder)
        self.n_classes = model_config.n_classes

        self.class_means = nn.Parameter(
            model_config.class_mean_init_std * torch.randn(model_config.n_classes, model_config.latent_dim)
        )

        counts = model_config.class_counts
        table = dataset_balanced_weights(torch.tensor(counts)) if counts is not None else None
        # Not persistent: the table is rebuilt from the config, which is what gets saved.
        self.register_buffer("class_weight_table", table, persistent=False)
        self._warned_batch_weights = False

    def read_labels(self, inputs, batch_size):
        labels = inputs.get("labels") if hasattr(inputs, "get") else None
        if labels is None:
            if self.training and torch.is_grad_enabled():
                raise ValueError(
                    f"{self.model_name} is class-conditional and needs labels to train, but the batch "
                    f"has no 'labels' entry (keys: {list(inputs.keys())}); use a dataset whose items "
                    "are DatasetOutput(data=..., labels=...), e.g. pythae's BaseDataset(data, labels)"
                )
            return None
        return parse_labels(labels, self.n_classes, batch_size).to(self.class_means.device)

    def sample_posterior(self, mu, log_var):
        return mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)

    def regulariser(self, mu, log_var, labels):
        return gaussian_regulariser(mu, log_var, loc=self.class_means[labels])

    def sample_weights(self, labels):
        weighting = self.model_config.class_weighting
        if weighting == "empirical":
            return None
        elif weighting == "uniform":
            if self.class_weight_table is not None:
                return self.class_weight_table[labels]
            if not self._warned_batch_weights:
                warnings.warn(
                    f"{self.model_name}: class_counts is not set, so uniform class weighting uses each "
                    "batch's own class counts, which is noisier and differs between distributed ranks. "
                    "Set class_counts=pythae_t3cvae.class_counts(train_dataset, n_classes) in the config.",
                    stacklevel=2,
                )
                self._warned_batch_weights = True
            return batch_balanced_weights(labels)
        else:
            raise ValueError(f"class_weighting must be 'uniform' or 'empirical', got {weighting!r}")
