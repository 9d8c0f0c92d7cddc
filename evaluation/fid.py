"""FID: pytorch-fid's InceptionV3 pool features, streaming statistics and a numerically stable Frechet distance."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np
import torch

from i2i.pretrained import RANDOM_WEIGHTS, load_state, require_weights
from i2i.rundir import atomic_write

INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"
FEATURE_DIM = 2048


@contextmanager
def _fid_weights(state: dict | None):
    """Make pytorch-fid's ``fid_inception_v3`` take ``state`` as its weights, or keep its own init for None;
    it never downloads."""
    import pytorch_fid.inception as fid_inception
    from torchvision.models.inception import Inception3

    if state is not None:
        with mock.patch.object(fid_inception, "load_state_dict_from_url", lambda *a, **k: state):
            yield
    else:
        with mock.patch.object(fid_inception, "load_state_dict_from_url", lambda *a, **k: None), \
                mock.patch.object(Inception3, "load_state_dict", lambda self, *a, **k: None):
            yield


def random_inception_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A seeded random state dict for pytorch-fid's Inception (same keys and shapes as the real file).

    Convolutions get He-normal weights and batch norms are identities, so activations keep their scale
    through the 90-odd layers; torchvision's own init (truncated normal, std 0.1) shrinks the pool
    features to about 1e-8 and every random-weights FID to about 0, which could pass for a perfect score.
    """
    from pytorch_fid.inception import fid_inception_v3

    with torch.random.fork_rng(devices=[]), _fid_weights(None):
        torch.manual_seed(seed)
        net = fid_inception_v3()
        for module in net.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            elif isinstance(module, torch.nn.BatchNorm2d):
                module.reset_parameters()
                module.reset_running_stats()
    return net.state_dict()


def build_inception(random_weights: bool = False, weights_dir: str | Path | None = None,
                    seed: int = 0) -> tuple[torch.nn.Module, str]:
    """pytorch-fid's InceptionV3 returning 2048-d pool3 features, frozen; returns ``(model, provenance)``.

    Weights: ``pt_inception-2015-12-05-6726825d.pth`` from ``--weights-dir`` or ``$TORCH_HOME/hub/checkpoints``
    (the file pytorch-fid downloads), loaded with ``weights_only=True``. ``random_weights`` uses
    ``random_inception_state(seed)`` instead; its provenance is ``random-weights``.
    """
    from pytorch_fid.inception import InceptionV3

    if random_weights:
        state, provenance = random_inception_state(seed), RANDOM_WEIGHTS
    else:
        path = require_weights(INCEPTION_FILE, "FID Inception", weights_dir)
        state, provenance = load_state(path), f"pretrained ({path.name})"
    with _fid_weights(state):
        model = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[FEATURE_DIM]], resize_input=True,
                            normalize_input=True, use_fid_inception=True)
    return model.eval().requires_grad_(False), provenance


@torch.no_grad()
def inception_features(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Pool features (N, 2048) of uint8 images (N, 3, H, W); like pytorch-fid, pixels are scaled to [0, 1]
    and the model resizes them to 299 x 299 (bilinear)."""
    device = next(model.parameters()).device
    return model(images.to(device).float() / 255.0)[0].flatten(1)


class FeatureStatistics:
    """Running mean and covariance of feature vectors, accumulated in float64 (no feature list kept)."""

    def __init__(self):
        self.n, self.total, self.outer = 0, 0.0, 0.0

    def add(self, features: torch.Tensor) -> None:
        """Add a batch of feature vectors (B, D)."""
        f = features.detach().double()
        self.total = self.total + f.sum(0)
        self.outer = self.outer + f.T @ f
        self.n += f.size(0)

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean (D,) and unbiased covariance (D, D), as ``np.mean`` / ``np.cov(rowvar=False)`` give them."""
        if self.n < 2:
            raise ValueError(f"FID statistics need at least 2 images, got {self.n}")
        mu = self.total / self.n
        cov = (self.outer - self.n * torch.outer(mu, mu)) / (self.n - 1)
        return mu.cpu().numpy(), cov.cpu().numpy()


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """``|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))`` in float64.

    ``tr((S1 S2)^(1/2))`` is the sum of the square roots of the eigenvalues of the symmetric PSD matrix
    ``S1^(1/2) S2 S1^(1/2)`` (similar to ``S1 S2``), so singular covariances (fewer samples than
    dimensions) never produce the complex values or failed ``sqrtm`` that ``scipy.linalg.sqrtm`` can.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"statistics differ in shape: {mu1.shape}/{sigma1.shape} vs {mu2.shape}/{sigma2.shape}")
    w, v = np.linalg.eigh((sigma1 + sigma1.T) / 2)
    root1 = (v * np.sqrt(w.clip(min=0))) @ v.T
    middle = root1 @ sigma2 @ root1
    tr_covmean = np.sqrt(np.linalg.eigvalsh((middle + middle.T) / 2).clip(min=0)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)


def fid_from_statistics(real: FeatureStatistics | tuple, fake: FeatureStatistics) -> tuple[float, int]:
    """FID between two sets of statistics (a FeatureStatistics or a cached ``(mu, sigma, n)``) and the smaller
    image count; below ``FEATURE_DIM`` images the covariance is singular and FID biased upwards."""
    mu1, sigma1, n1 = (*real.mean_cov(), real.n) if isinstance(real, FeatureStatistics) else real
    mu2, sigma2 = fake.mean_cov()
    return frechet_distance(mu1, sigma1, mu2, sigma2), min(n1, fake.n)


def save_statistics(path: Path, stats: FeatureStatistics) -> None:
    """Write ``mu``, ``sigma`` and ``n`` to an ``.npz`` atomically."""
    mu, sigma = stats.mean_cov()

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would add ".npz" to a bare temporary name
            np.savez(f, mu=mu, sigma=sigma, n=np.array(stats.n))
    atomic_write(path, write)


def load_statistics(path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """``(mu, sigma, n)`` from an ``.npz`` written by ``save_statistics`` (no pickles)."""
    with np.load(path, allow_pickle=False) as data:
        return data["mu"], data["sigma"], int(data["n"])
