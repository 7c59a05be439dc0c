"""Shared machinery of this package's models: the forward pass, label-free helpers and safe loading.

Subclasses provide the posterior draw, the per-sample regulariser and the per-sample weights; the
forward pass and the way pythae saves and reloads the model are common to all of them.
"""

import logging
import os
import warnings
from typing import Optional

import torch
from pythae.data.datasets import DatasetOutput
from pythae.models import VAE
from pythae.models.base.base_utils import ModelOutput
from pythae.models.nn import BaseDecoder, BaseEncoder

from ..networks import build_networks
from .losses import squared_error

logger = logging.getLogger(__name__)

PICKLED_NETWORK_FILES = ("encoder.pkl", "decoder.pkl")


def _at_least_float32(tensor: torch.Tensor) -> torch.Tensor:
    """Cast float16 and bfloat16 tensors to float32, keeping float32 and float64 ones as they are."""
    return tensor.to(torch.promote_types(tensor.dtype, torch.float32))


class LatentPriorVAE(VAE):
    """Base class: a pythae ``VAE`` whose loss is squared error / sigma^2 + beta * regulariser."""

    #: True when the prior depends on the class, so training batches must carry labels.
    conditional = False

    def __init__(
        self,
        model_config,
        encoder: Optional[BaseEncoder] = None,
        decoder: Optional[BaseDecoder] = None,
    ):
        # Networks named in the config are rebuilt from the name, never unpickled.
        named = model_config.network is not None and encoder is None and decoder is None
        if named:
            encoder, decoder = build_networks(
                model_config.network, model_config.input_dim, model_config.latent_dim,
                model_config.network_width,
            )

        VAE.__init__(self, model_config=model_config, encoder=encoder, decoder=decoder)
        self.model_name = type(self).__name__

        if named:
            # pythae pickles only networks flagged as custom, so these are saved by name alone.
            self.model_config.uses_default_encoder = True
            self.model_config.uses_default_decoder = True

        self.data_dim = int(torch.Size(model_config.input_dim).numel())

    # Hooks of the subclasses.

    def sample_posterior(self, mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def regulariser(self, mu, log_var, labels: Optional[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def sample_weights(self, labels: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        """Per-sample loss weights, or None for the plain batch mean."""
        return None

    def read_labels(self, inputs, batch_size: int) -> Optional[torch.Tensor]:
        """Validated labels of the batch, or None when the model does not use them."""
        return None

    # The forward pass.

    def forward(self, inputs, **kwargs) -> ModelOutput:
        """Encode, draw z, decode and compute the loss of a batch ``{"data": x, "labels": y}``.

        pythae's trainers pass ``epoch``, ``dataset_size`` and ``uses_ddp``; they are ignored.
        Conditional models need labels in training mode; outside training, a batch without labels
        gives the reconstruction and z but no loss.
        """
        x = inputs["data"]
        labels = self.read_labels(inputs, x.shape[0])

        encoder_output = self.encoder(x)
        # Loss arithmetic runs in float32 even under autocast, and in float64 for a float64 model.
        mu = _at_least_float32(encoder_output.embedding)
        log_var = _at_least_float32(encoder_output.log_covariance)

        z = self.sample_posterior(mu, log_var)
        recon_x = self.decoder(z)["reconstruction"]

        if self.conditional and labels is None:
            return ModelOutput(recon_x=recon_x, z=z)

        recon = squared_error(
            _at_least_float32(recon_x), _at_least_float32(x), self.model_config.sigma
        )  # (B,)
        reg = self.regulariser(mu, log_var, labels)  # (B,)

        weights = self.sample_weights(labels)
        if weights is not None:
            recon, reg = weights * recon, weights * reg

        recon_loss, reg_loss = recon.mean(), reg.mean()
        return ModelOutput(
            # recon_loss + beta * reg_loss in one kernel, forward and backward.
            loss=torch.add(recon_loss, reg_loss, alpha=self.model_config.beta),
            recon_loss=recon_loss,
            reg_loss=reg_loss,
            recon_x=recon_x,
            z=z,
        )

    # Label-free helpers: the encoder and decoder take no label.

    def _encode_decode(self, inputs: torch.Tensor) -> ModelOutput:
        encoder_output = self.encoder(inputs)
        z = self.sample_posterior(
            _at_least_float32(encoder_output.embedding), _at_least_float32(encoder_output.log_covariance)
        )
        return ModelOutput(recon_x=self.decoder(z)["reconstruction"], z=z)

    def reconstruct(self, inputs: torch.Tensor) -> torch.Tensor:
        """Return reconstructions of ``inputs`` through one posterior draw (no label needed)."""
        return self._encode_decode(inputs).recon_x

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        """Return one posterior draw z per input (no label needed)."""
        return self._encode_decode(inputs).z

    def interpolate(self, starting_inputs, ending_inputs, granularity: int = 10) -> torch.Tensor:
        """Decode the straight line between the embeddings of two batches, shape (B, granularity, ...)."""
        if starting_inputs.shape[0] != ending_inputs.shape[0]:
            raise ValueError(
                f"starting_inputs and ending_inputs must have the same batch size, got "
                f"{starting_inputs.shape[0]} and {ending_inputs.shape[0]}"
            )
        start, end = self.embed(starting_inputs), self.embed(ending_inputs)  # (B, m)
        t = torch.linspace(0, 1, granularity, device=start.device).view(1, -1, 1)
        line = (1 - t) * start.unsqueeze(1) + t * end.unsqueeze(1)  # (B, G, m)
        decoded = self.decoder(line.reshape(-1, start.shape[-1]))["reconstruction"]
        return decoded.reshape(starting_inputs.shape[0], granularity, *starting_inputs.shape[1:])

    # Loading.

    @classmethod
    def _load_model_weights_from_folder(cls, dir_path):
        path = os.path.join(dir_path, "model.pt")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"model weights not found: expected {path}")
        # Weights are plain tensors: never unpickle arbitrary objects here.
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        if "model_state_dict" not in checkpoint:
            raise KeyError(f"{path} has no 'model_state_dict' entry; found keys {sorted(checkpoint)}")
        return checkpoint["model_state_dict"]

    @classmethod
    def load_from_folder(cls, dir_path, allow_pickle: bool = False):
        """Load a model saved by ``save`` (or by a pythae trainer) from ``dir_path``.

        Networks named in the config (``network="conv32"`` and so on) and pythae's default MLPs are
        rebuilt from the config, and weights load with ``torch.load(weights_only=True)``. A folder
        holding pickled custom networks (``encoder.pkl`` / ``decoder.pkl``, pythae's format) loads
        only with ``allow_pickle=True``, because unpickling runs code stored in the file.
        """
        if not os.path.isdir(dir_path):
            raise FileNotFoundError(f"model folder not found: {dir_path}")
        model_config = cls._load_model_config_from_folder(dir_path)
        weights = cls._load_model_weights_from_folder(dir_path)

        needs_pickle = not (model_config.uses_default_encoder and model_config.uses_default_decoder)
        if needs_pickle and not allow_pickle:
            raise ValueError(
                f"{dir_path} stores its encoder/decoder as pickle files ({', '.join(PICKLED_NETWORK_FILES)}), "
                "and unpickling runs any code the file contains. Load it only if you trust its "
                "source, with load_from_folder(path, allow_pickle=True); models built with "
                "network='conv32' (or another named network) need no pickle."
            )
        if needs_pickle:
            warnings.warn(
                f"unpickling the networks of {dir_path}: this runs code stored in the files, "
                "so do it only for folders from a trusted source",
                stacklevel=2,
            )

        encoder = None if model_config.uses_default_encoder else cls._load_custom_encoder_from_folder(dir_path)
        decoder = None if model_config.uses_default_decoder else cls._load_custom_decoder_from_folder(dir_path)

        model = cls(model_config, encoder=encoder, decoder=decoder)
        model.load_state_dict(weights)
        return model

    @classmethod
    def load_from_hf_hub(cls, hf_hub_path: str, allow_pickle: bool = False):
        """Download a model pushed with ``push_to_hf_hub`` and load it as ``load_from_folder`` does.

        Needs ``huggingface_hub``. Unlike pythae's version, which returns None after a warning, a
        repository with pickled networks raises ValueError unless ``allow_pickle=True``, and the
        pickle files are downloaded only then.
        """
        try:
            from huggingface_hub import hf_hub_download
        except ImportError as error:
            raise ModuleNotFoundError(
                "loading from the Hugging Face hub needs huggingface_hub: pip install huggingface_hub"
            ) from error

        config_path = hf_hub_download(repo_id=hf_hub_path, filename="model_config.json")
        hf_hub_download(repo_id=hf_hub_path, filename="model.pt")
        dir_path = os.path.dirname(config_path)

        model_config = cls._load_model_config_from_folder(dir_path)
        pickled = [
            name for name, default in zip(
                PICKLED_NETWORK_FILES,
                (model_config.uses_default_encoder, model_config.uses_default_decoder),
            ) if not default
        ]
        if pickled and not allow_pickle:
            raise ValueError(
                f"the hub repository {hf_hub_path} stores its networks as pickle files ({', '.join(pickled)}), "
                "and unpickling runs any code the file contains. Load it only if you trust its source, "
                "with load_from_hf_hub(path, allow_pickle=True)."
            )
        if pickled:
            for name in pickled:
                hf_hub_download(repo_id=hf_hub_path, filename=name)
        return cls.load_from_folder(dir_path, allow_pickle=allow_pickle)


def batch_to_inputs(data: torch.Tensor, labels: Optional[torch.Tensor] = None) -> DatasetOutput:
    """Wrap tensors as the batch dictionary pythae models take."""
    return DatasetOutput(data=data) if labels is None else DatasetOutput(data=data, labels=labels)
