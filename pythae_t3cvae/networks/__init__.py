"""Named encoder/decoder pairs, so that a model config can rebuild its networks without pickle."""

from typing import Optional, Sequence, Tuple

from .conv import CONV_SPECS, ConvDecoder, ConvEncoder, ConvSpec

NETWORK_NAMES = tuple(sorted(CONV_SPECS))


def build_networks(
    name: str, input_dim: Sequence[int], latent_dim: int, width: float = 1.0
) -> Tuple[ConvEncoder, ConvDecoder]:
    """Build the encoder and decoder registered under ``name`` for images of shape ``input_dim``."""
    if name not in CONV_SPECS:
        raise ValueError(f"unknown network {name!r}; expected one of {list(NETWORK_NAMES)}")
    spec = CONV_SPECS[name]

    if input_dim is None or len(input_dim) != 3 or tuple(input_dim[1:]) != (spec.image_size,) * 2:
        raise ValueError(
            f"network {name!r} expects input_dim (C, {spec.image_size}, {spec.image_size}), "
            f"got input_dim={input_dim!r}; pick the network matching the image size "
            f"(see network_for_input)"
        )
    if not width > 0:
        raise ValueError(f"network_width must be > 0, got {width!r}")

    return (
        ConvEncoder(input_dim, latent_dim, spec, width),
        ConvDecoder(input_dim, latent_dim, spec, width),
    )


def network_for_input(input_dim: Sequence[int]) -> Optional[str]:
    """Return the name of the reference network for square images of this size, or None."""
    if input_dim is None or len(input_dim) != 3 or input_dim[1] != input_dim[2]:
        return None
    for name, spec in CONV_SPECS.items():
        if spec.image_size == input_dim[1]:
            return name
    return None


__all__ = ["ConvDecoder", "ConvEncoder", "ConvSpec", "NETWORK_NAMES", "build_networks", "network_for_input"]
