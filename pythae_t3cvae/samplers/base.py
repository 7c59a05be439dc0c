"""Shared sampling loop: latent draws on the model's device, batched decoding, optional PNG output."""

import logging
import operator
from typing import Optional

import torch
from pythae.samplers import BaseSampler

from .configs import check_tau
from .images import save_png_batch, write_manifest

logger = logging.getLogger(__name__)


def as_integer(value) -> Optional[int]:
    """Return ``value`` as a Python int when it is an integer (Python, NumPy or a one-element integer
    tensor), else None. Bools count as not integers, so ``num_samples=True`` is rejected."""
    if isinstance(value, bool) or (torch.is_tensor(value) and value.dtype == torch.bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def model_device(model) -> torch.device:
    """Device of the model's parameters (CPU for a model without parameters)."""
    parameter = next(model.parameters(), None)
    return torch.device("cpu") if parameter is None else parameter.device


def default_tau(model) -> float:
    """Generation scale used when the sampler config leaves tau None.

    Student's t models (T3VAE, T3CVAE) use their theoretical tau = sqrt(nu / (nu + n) * tau_b^2);
    Gaussian models use 1, the scale of their N(mu_y, I) prior.
    """
    constants = getattr(model, "constants", None)
    return 1.0 if constants is None else constants.tau


class LatentSampler(BaseSampler):
    """Base class of this package's samplers.

    Unlike pythae's ``BaseSampler``, it leaves the model where the user put it: sampling runs on
    the device of the model's parameters and never moves a CPU model to CUDA.

    Subclasses implement ``draw_latents(labels, num_samples, generator)`` and may implement
    ``draw_labels``; the loop here handles seeds, batching, file output and return values.
    """

    #: model classes this sampler accepts, set by subclasses
    model_types: tuple = ()

    def __init__(self, model, sampler_config):
        if not isinstance(model, self.model_types):
            allowed = ", ".join(cls.__name__ for cls in self.model_types)
            raise ValueError(
                f"{type(self).__name__} samples from {allowed} models, got a {type(model).__name__}"
            )
        self.model = model
        self.model.eval()
        self.sampler_config = sampler_config
        self.is_fitted = True
        self.device = model_device(model)

    def fit(self, *args, **kwargs):
        """Nothing to fit: the generation prior is given by the trained model."""

    @property
    def tau(self) -> float:
        """The generation scale: the config's tau, or the model's default."""
        tau = self.sampler_config.tau
        check_tau(tau)
        return default_tau(self.model) if tau is None else float(tau)

    def draw_labels(self, num_samples, class_id, labels, generator) -> Optional[torch.Tensor]:
        """Class of every sample, or None for an unconditional sampler."""
        if class_id is not None or labels is not None:
            raise ValueError(f"{type(self).__name__} is unconditional: class_id and labels must be None")
        return None

    def draw_latents(self, labels, num_samples, generator) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def sample(
        self,
        num_samples: int = 1,
        batch_size: int = 500,
        output_dir: Optional[str] = None,
        return_gen: bool = True,
        save_sampler_config: bool = False,
        class_id: Optional[int] = None,
        labels=None,
        seed: Optional[int] = None,
        generator: Optional[torch.Generator] = None,
        return_labels: bool = False,
    ):
        """Generate ``num_samples`` images.

        Args:
            num_samples: number of images, >= 1.
            batch_size: images decoded at once. It changes memory use, not the latents or labels, but
                a convolutional decoder's float rounding can differ between batch sizes (measured:
                6e-8 for conv8 on the CPU with torch 2.14). On a CPU, smaller batches can run faster
                because large tensors page-fault: conv32 decoded 1.3 to 1.4x faster at 100 than at 500.
            output_dir: when given, PNG files go to one sub-folder per class (``class_003/``) with a
                ``manifest.csv`` (file, class, seed, tau); pixels are round(clamp(x, 0, 1) * 255).
            return_gen: return the images (N, C, H, W) in [0, 1].
            save_sampler_config: also write ``sampler_config.json`` into ``output_dir``.
            class_id: generate only this class.
            labels: one class id per sample (length ``num_samples``), overriding the mixture.
            seed: seed of a new generator on the model's device. The same seed gives the same
                latents and labels whatever ``batch_size`` is (on the same device type), and images
                equal up to the decoder's float rounding.
            generator: a ``torch.Generator`` on the model's device, used instead of ``seed``.
            return_labels: return ``(images, labels)``; labels is None for unconditional samplers.
        """
        # 1. Check the request.
        count, size = as_integer(num_samples), as_integer(batch_size)
        if count is None or count < 1:
            raise ValueError(f"num_samples must be an integer >= 1, got num_samples={num_samples!r}")
        if size is None or size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got batch_size={batch_size!r}")
        num_samples, batch_size = count, size
        if seed is not None and generator is not None:
            raise ValueError("pass either seed or generator, not both")
        if save_sampler_config and output_dir is None:
            raise ValueError("save_sampler_config=True needs an output_dir to write sampler_config.json into")
        if seed is not None:
            generator = torch.Generator(device=self.device).manual_seed(int(seed))

        # 2. Every latent draw at once, so the latents do not depend on the batch size.
        sample_labels = self.draw_labels(num_samples, class_id, labels, generator)
        z = self.draw_latents(sample_labels, num_samples, generator)  # (N, m)

        # 3. Decode in batches, writing each batch before the next one.
        images, files = [], []
        for start in range(0, num_samples, batch_size):
            x = self.model.decoder(z[start : start + batch_size])["reconstruction"].detach()
            if output_dir is not None:
                batch_labels = None if sample_labels is None else sample_labels[start : start + batch_size]
                files += save_png_batch(x, batch_labels, output_dir, first_index=start)
            if return_gen:
                images.append(x)

        # 4. Record what was written.
        if output_dir is not None:
            labels_list = None if sample_labels is None else sample_labels.tolist()
            write_manifest(output_dir, files, labels_list, seed, self.tau)
            logger.info("wrote %d images and %s to %s", num_samples, "manifest.csv", output_dir)
        if save_sampler_config:
            self.save(output_dir)

        if not return_gen:
            return (None, sample_labels) if return_labels else None
        generated = torch.cat(images, dim=0)
        return (generated, sample_labels) if return_labels else generated
