"""LPIPS diversity (paper Sec. 5, StarGAN v2's protocol): mean LPIPS over all pairs of one source's translations."""
from __future__ import annotations

import torch

from i2i.evaluation.perceptual import LPIPSDistance


def all_pairs(k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices ``(i, j)`` of the k * (k - 1) / 2 unordered pairs i < j."""
    i, j = torch.triu_indices(k, k, offset=1)
    return i, j


def lpips_diversity(distance: LPIPSDistance, translations: torch.Tensor) -> torch.Tensor:
    """Per-source diversity: (N, K, 3, H, W) translations in [-1, 1] -> (N,) mean distance over the K-choose-2 pairs.

    The N * K images go through the feature network once; all N * K(K-1)/2 pairs are scored in one call.
    """
    n, k = translations.shape[:2]
    if k < 2:
        raise ValueError(f"diversity needs at least 2 translations per source, got {k}")
    i, j = all_pairs(k)
    offsets = (torch.arange(n) * k)[:, None]
    feats = distance.features(translations.flatten(0, 1))
    device = feats[0].device
    d = distance.between(feats, (offsets + i).flatten().to(device), (offsets + j).flatten().to(device))
    return d.view(n, -1).mean(1)
