"""C-t3VAE: one Student's t prior per class with a learnable class mean, uniform class weighting.

"Heavy-Tailed Class-Conditional Priors for Long-Tailed Generative Modeling", arXiv:2509.02154.

    prior        p(z | y) = t_m(mu_y, I, nu), mu_y a learnable row of ``class_means`` (K x m)
    posterior    the t3VAE one, t_m(mu_phi(x), Sigma_phi(x) / (1 + n / nu), nu + n)
    loss         the t3VAE loss with |mu_phi - mu_y|^2 in place of |mu_phi|^2; the constants gamma,
                 tau_b^2, C_bar and tau are the t3VAE ones, because the gamma-power divergence is
                 invariant to translating both distributions by mu_y
    generation   (1/K) sum_y t_m(mu_y, tau^2 I, nu + n)   (ClassMixtureSampler)
"""

from .configs import T3CVAEConfig
from .constants import t3_constants
from .cvae import CVAE
from .losses import t3_regulariser
from .t3vae import sample_t3_posterior


class T3CVAE(CVAE):
    """C-t3VAE as a pythae model; see the module docstring for the formulas.

    Args:
        model_config (T3CVAEConfig): the configuration.
        encoder, decoder: pythae networks; None builds ``model_config.network`` when set, else
            pythae's default MLPs.

    Attributes:
        class_means (nn.Parameter): mu_y, shape (n_classes, latent_dim), initialised with
            independent N(0, class_mean_init_std^2) entries.
    """

    def __init__(self, model_config: T3CVAEConfig, encoder=None, decoder=None):
        super().__init__(model_config, encoder=encoder, decoder=decoder)
        self.constants = t3_constants(
            model_config.nu, self.data_dim, model_config.latent_dim, model_config.sigma
        )

    def sample_posterior(self, mu, log_var):
        return sample_t3_posterior(mu, log_var, self.model_config.nu, self.data_dim)

    def regulariser(self, mu, log_var, labels):
        return t3_regulariser(
            mu, log_var, self.model_config.nu, self.data_dim, self.constants,
            loc=self.class_means[labels],
        )
