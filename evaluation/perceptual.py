"""Distances between many image pairs for PS: LPIPS (each image's AlexNet features computed once) and pixels."""
from __future__ import annotations

import lpips
import torch

DISTANCES = ("lpips", "sqrt-lpips")


class LPIPSDistance:
    """``delta(a, b)``: plain LPIPS (v0.1, AlexNet) or its square root.

    LPIPS v0.1 is ``sum_l mean_hw sum_c w_lc (f_a - f_b)^2`` over unit-normalised features with
    non-negative ``w``, i.e. a squared weighted Euclidean distance; ``sqrt-lpips`` is that distance
    itself, which obeys the triangle inequality (the "proper metric" of the paper's text). Plain
    LPIPS is the default because the authors' PS script and the paper's tables use it.

    Features are computed once per image (``features``) and reused for every pair that image is in
    (``between``): a 20-frame interpolation needs 20 feature passes, not 2 * 20.
    """

    def __init__(self, net: lpips.LPIPS, form: str = "lpips"):
        if form not in DISTANCES:
            raise ValueError(f"unknown distance {form!r}: choose one of {', '.join(DISTANCES)}")
        if net.version != "0.1" or not net.lpips or net.spatial:
            raise ValueError("LPIPSDistance expects lpips.LPIPS(version='0.1', lpips=True, spatial=False)")
        self.net, self.form = net, form

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Unit-normalised AlexNet features of float images in [-1, 1] (B, 3, H, W), one tensor per layer."""
        return [lpips.normalize_tensor(f) for f in self.net.net(self.net.scaling_layer(images))]

    @torch.no_grad()
    def between(self, feats: list[torch.Tensor], i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        """Distances between images ``i[p]`` and ``j[p]`` of one ``features`` batch: (P,) and (P,) -> (P,)."""
        total = 0.0
        for f, lin in zip(feats, self.net.lins):
            total = total + lin((f[i] - f[j]) ** 2).mean((1, 2, 3))
        return total.sqrt() if self.form == "sqrt-lpips" else total

    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Distances between matching images of two batches (N, 3, H, W) -> (N,)."""
        return pair_distances(self, a, b)


class PixelDistance:
    """``delta(a, b) = mean |a - b|`` over pixels and channels of images in [-1, 1]: a metric with no network
    (and no weights to fetch), for PS where a pretrained LPIPS is not at hand or pixels are the point (glyphs)."""

    kind = "pixel"

    def features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The images themselves, flattened: (B, 3 * H * W)."""
        return [images.flatten(1).float()]

    def between(self, feats: list[torch.Tensor], i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        """Distances between images ``i[p]`` and ``j[p]`` of one ``features`` batch: (P,) and (P,) -> (P,)."""
        return (feats[0][i] - feats[0][j]).abs().mean(1)

    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Distances between matching images of two batches (N, 3, H, W) -> (N,)."""
        return pair_distances(self, a, b)


def pair_distances(distance, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``distance`` between matching images of two batches (N, 3, H, W) -> (N,), from one features call."""
    n = a.size(0)
    idx = torch.arange(n, device=a.device)
    return distance.between(distance.features(torch.cat([a, b])), idx, idx + n)

