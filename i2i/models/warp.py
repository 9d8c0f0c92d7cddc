"""A style-conditioned smooth warp of the generator's content features (optional, not in StarGAN v2)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from i2i.models.blocks import AdaIN


class StyleWarp(nn.Module):
    """Move the content features ``h`` (N, C, H, W) along a smooth displacement field predicted from ``h`` and the
    style code: ``warp(h, s)(p) = h(p + flow(h, s)(p))``, sampled bilinearly.

    StarGAN v2's decoder changes *what* is drawn at each place through AdaIN; a change of *where* (a slant, a wider
    or narrower shape, a pose) has to be drawn anew by convolutions whose inputs still hold the source's geometry,
    and the cycle and content terms favour keeping it. The warp gives the generator that change directly, as
    deformation-based translation models do (ST-GAN, Lin et al. 2018; DeformGAN). The field is predicted on a
    coarse ``grid`` x ``grid`` pooling of ``h`` (each cell sees the whole shape through two AdaIN convolutions) and
    upsampled bilinearly, so it is smooth by construction. With the default 4 x 4 grid (cell centres a quarter of the
    side apart) and shifts of at most an eighth of the side (``max_shift`` 0.25 in ``grid_sample``'s units of half the
    side), two cells' shifts differ by at most their distance: the warp can squeeze a region to nothing but never
    fold the image over itself (an 8 x 8 grid did, and drew strokes twice). Its last convolution starts at zero, so
    the warp starts as the identity.
    """

    def __init__(self, dim: int, style_dim: int, grid: int = 4, hidden: int = 32, max_shift: float = 0.25):
        super().__init__()
        self.grid, self.max_shift = grid, max_shift
        self.actv = nn.LeakyReLU(0.2)
        self.conv1 = nn.Conv2d(dim, hidden, 3, 1, 1)
        self.norm1 = AdaIN(style_dim, hidden)
        self.conv2 = nn.Conv2d(hidden, hidden, 3, 1, 1)
        self.norm2 = AdaIN(style_dim, hidden)
        self.to_flow = nn.Conv2d(hidden, 2, 3, 1, 1)
        self.start_as_identity()

    def start_as_identity(self) -> None:
        """Zero the last convolution: no displacement until training moves it (call again after re-initialising)."""
        nn.init.zeros_(self.to_flow.weight)
        nn.init.zeros_(self.to_flow.bias)

    def flow(self, h: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """The displacement field (N, 2, H, W), channels (x, y), in ``grid_sample`` units (half the image side)."""
        x = F.adaptive_avg_pool2d(h, min(self.grid, h.size(-1)))
        x = self.actv(self.norm1(self.conv1(x), s))
        x = self.actv(self.norm2(self.conv2(x), s))
        coarse = self.max_shift * torch.tanh(self.to_flow(x))
        return F.interpolate(coarse, size=h.shape[-2:], mode="bilinear", align_corners=False)

    def forward(self, h: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        height, width = h.shape[-2:]
        ys = torch.linspace(-1 + 1 / height, 1 - 1 / height, height, device=h.device, dtype=h.dtype)
        xs = torch.linspace(-1 + 1 / width, 1 - 1 / width, width, device=h.device, dtype=h.dtype)
        base = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1)  # (H, W, 2): pixel centres, (x, y)
        grid = base + self.flow(h, s).permute(0, 2, 3, 1).to(h.dtype)
        return F.grid_sample(h, grid, mode="bilinear", padding_mode="border", align_corners=False)
