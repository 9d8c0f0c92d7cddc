"""Colour operations on image batches (N, 3, H, W) in [-1, 1]: hue rotation about the grey axis, recolouring."""
from __future__ import annotations

import math

import torch


def rotate_hue(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Rotate the colours of images (N, 3, H, W) about the grey axis by ``theta`` (N,) radians (Rodrigues'
    formula): greys stay, each pixel keeps its channel mean, and 2 pi / 3 maps red to green to blue."""
    cross = torch.tensor([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]]).to(x) / math.sqrt(3)  # [k]_x
    theta = theta.to(x)[:, None, None]
    rot = torch.eye(3, dtype=x.dtype, device=x.device) + theta.sin() * cross + (1 - theta.cos()) * (cross @ cross)
    return torch.einsum("nij,njhw->nihw", rot, x)


def chroma_angle(x: torch.Tensor) -> torch.Tensor:
    """Hue angle (radians, red 0, green 2 pi / 3) of each image's mean colour (N, 3, H, W) -> (N,)."""
    r, g, b = x.mean((2, 3)).unbind(1)
    return torch.atan2(math.sqrt(3) / 2 * (g - b), r - (g + b) / 2)


def recolour_to(x: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Each image of ``x`` with its colours rotated about the grey axis so that its mean hue is ``angle`` (N,).

    Brightness (each pixel's channel mean), saturation and the spatial pattern are kept; the result is clamped
    to [-1, 1]. Unlike a per-channel or covariance colour transfer, this leaves no off-palette colours that a
    discriminator could learn instead of the pattern.
    """
    return rotate_hue(x, angle - chroma_angle(x)).clamp(-1, 1)


def recolour_like(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Each image of ``x`` recoloured (:func:`recolour_to`) to the mean hue of the same row of ``ref``."""
    return recolour_to(x, chroma_angle(ref))
