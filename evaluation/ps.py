"""Perceptual Smoothness (PS, paper Sec. 5, Eq. 13-14): alignment and uniformity of an interpolation path.

For frames ``A = (G(x, s_0), ..., G(x, s_T))`` with step distances ``d_t = delta(A_{t-1}, A_t)`` and
endpoint distance ``D = delta(A_0, A_T)``:

- alignment  = min(1, D / sum_t d_t), capped at 1 as in the authors' code (plain LPIPS is not a metric,
  so D can exceed the path length);
- uniformity = 1 - Gini(d_1 .. d_T), Gini = sum_ij |d_i - d_j| / (2 T^2 mean(d));
- PS         = harmonic mean of alignment and uniformity, per sequence, then averaged (as the authors'
  script does, rather than the harmonic mean of the averaged terms).
"""
from __future__ import annotations

from typing import NamedTuple

import torch

GINI_EPS = 1e-6


def gini(d: torch.Tensor) -> torch.Tensor:
    """Gini coefficient over the last dimension: (..., T) -> (...).

    ``1e-6`` is added to every value first, as in the authors' code, so that an all-zero sequence (a frozen
    interpolation) gives Gini 0 instead of 0/0.
    """
    d = d.double() + GINI_EPS
    t = d.size(-1)
    pairwise = (d[..., :, None] - d[..., None, :]).abs().sum((-1, -2))
    return (pairwise / (2 * t * d.sum(-1))).to(torch.get_default_dtype())


class PerceptualSmoothness(NamedTuple):
    """Per-sequence PS and its two terms, each of shape (N,)."""

    ps: torch.Tensor
    alignment: torch.Tensor
    uniformity: torch.Tensor


def perceptual_smoothness(step_distances: torch.Tensor, endpoint_distances: torch.Tensor) -> PerceptualSmoothness:
    """PS of N interpolation sequences from their step distances (N, T) and endpoint distances (N,).

    A frozen sequence (path length 0, so D = 0 too) gets alignment 0 and hence PS 0: the authors' code
    gives NaN there, and scoring it 1 would reward a collapsed generator, which PS is meant not to do.
    """
    if step_distances.dim() != 2 or endpoint_distances.shape != step_distances.shape[:1]:
        raise ValueError(f"expected step distances (N, T) and endpoint distances (N,), got "
                         f"{tuple(step_distances.shape)} and {tuple(endpoint_distances.shape)}")
    step_distances, endpoint_distances = step_distances.double(), endpoint_distances.double()
    path = step_distances.sum(-1)
    alignment = torch.where(path > 0, endpoint_distances / path.clamp_min(1e-30), torch.zeros_like(path))
    alignment = alignment.clamp(max=1.0)
    uniformity = 1.0 - gini(step_distances).double()
    total = alignment + uniformity
    ps = torch.where(total > 0, 2 * alignment * uniformity / total.clamp_min(1e-30), torch.zeros_like(total))
    dtype = torch.get_default_dtype()
    return PerceptualSmoothness(ps.to(dtype), alignment.to(dtype), uniformity.to(dtype))


def interpolation_alphas(num_frames: int = 20, include_end: bool = True) -> torch.Tensor:
    """Interpolation weights of the frames: ``t / (F - 1)`` for t = 0..F-1 (both end points, the paper's text)
    or, with ``include_end=False``, ``t / F`` (0, 0.05, ..., 0.95 for 20 frames, the authors' PS script)."""
    if num_frames < 2:
        raise ValueError(f"an interpolation needs at least 2 frames, got {num_frames}")
    return torch.arange(num_frames, dtype=torch.float64).div(num_frames - 1 if include_end else num_frames).float()


def sequence_distances(distance, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Step distances (N, F-1) and endpoint distances (N,) of N frame sequences (N, F, 3, H, W).

    ``distance`` is an :class:`evaluation.perceptual.LPIPSDistance`: the N * F frames go through its
    feature network once and all N * F pairs are scored in one call.
    """
    n, f = frames.shape[:2]
    feats = distance.features(frames.flatten(0, 1))
    device = feats[0].device
    starts = torch.arange(n, device=device) * f
    steps_i = (starts[:, None] + torch.arange(f - 1, device=device)).flatten()
    d = distance.between(feats, torch.cat([steps_i, starts]), torch.cat([steps_i + 1, starts + f - 1]))
    return d[: n * (f - 1)].view(n, f - 1), d[n * (f - 1):]
