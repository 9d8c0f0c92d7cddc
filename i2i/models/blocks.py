"""Residual building blocks of StarGAN v2: pre-activation ResBlk, AdaIN and AdaIN ResBlk."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from i2i.config import check_bottleneck_size, check_img_size  # noqa: F401 (re-exported for the networks)


class ResBlk(nn.Module):
    """Pre-activation residual block, optionally instance-normalised and 2x average-pool downsampling.

    ``out = (shortcut(x) + residual(x)) / sqrt(2)`` with a learned bias-free 1x1 shortcut when the
    channel count changes.
    """

    def __init__(self, dim_in: int, dim_out: int, normalize: bool = False, downsample: bool = False):
        super().__init__()
        self.normalize = normalize
        self.downsample = downsample
        self.learned_sc = dim_in != dim_out
        self.actv = nn.LeakyReLU(0.2)
        self.conv1 = nn.Conv2d(dim_in, dim_in, 3, 1, 1)
        self.conv2 = nn.Conv2d(dim_in, dim_out, 3, 1, 1)
        if normalize:
            self.norm1 = nn.InstanceNorm2d(dim_in, affine=True)
            self.norm2 = nn.InstanceNorm2d(dim_in, affine=True)
        if self.learned_sc:
            self.conv1x1 = nn.Conv2d(dim_in, dim_out, 1, 1, 0, bias=False)

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.learned_sc:
            x = self.conv1x1(x)
        if self.downsample:
            x = F.avg_pool2d(x, 2)
        return x

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        if self.normalize:
            x = self.norm1(x)
        x = self.conv1(self.actv(x))
        if self.downsample:
            x = F.avg_pool2d(x, 2)
        if self.normalize:
            x = self.norm2(x)
        return self.conv2(self.actv(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self._shortcut(x) + self._residual(x)) / math.sqrt(2)


class AdaIN(nn.Module):
    """Adaptive instance norm: ``(1 + gamma(s)) * IN(x) + beta(s)`` with gamma, beta from one linear layer."""

    def __init__(self, style_dim: int, num_features: int):
        super().__init__()
        self.norm = nn.InstanceNorm2d(num_features, affine=False)
        self.fc = nn.Linear(style_dim, num_features * 2)

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        h = self.fc(s)[:, :, None, None]
        gamma, beta = h.chunk(2, dim=1)
        return (1 + gamma) * self.norm(x) + beta


class AdainResBlk(nn.Module):
    """Decoder residual block with AdaIN and optional 2x nearest upsampling.

    With ``w_hpf > 0`` (the face high-pass path) the block returns the residual branch alone, as
    StarGAN v2 does: the skip information then comes from the masked high-pass features instead.
    """

    def __init__(self, dim_in: int, dim_out: int, style_dim: int = 64, w_hpf: float = 0, upsample: bool = False):
        super().__init__()
        self.w_hpf = w_hpf
        self.upsample = upsample
        self.learned_sc = dim_in != dim_out
        self.actv = nn.LeakyReLU(0.2)
        self.conv1 = nn.Conv2d(dim_in, dim_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(dim_out, dim_out, 3, 1, 1)
        self.norm1 = AdaIN(style_dim, dim_in)
        self.norm2 = AdaIN(style_dim, dim_out)
        if self.learned_sc:
            self.conv1x1 = nn.Conv2d(dim_in, dim_out, 1, 1, 0, bias=False)

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        if self.learned_sc:
            x = self.conv1x1(x)
        return x

    def _residual(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        x = self.actv(self.norm1(x, s))
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.conv1(x)
        x = self.actv(self.norm2(x, s))
        return self.conv2(x)

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        out = self._residual(x, s)
        if self.w_hpf == 0:
            out = (out + self._shortcut(x)) / math.sqrt(2)
        return out


def he_init(module: nn.Module) -> None:
    """Kaiming-normal (fan_in, ReLU gain) weights and zero biases for conv and linear layers, as StarGAN v2."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def zero_init_residual(module: nn.Module) -> None:
    """Zero the last convolution of every residual branch (``ResBlk``/``AdainResBlk``), so each block starts as
    its shortcut: the network begins as a (blurred) copy of its input and learns the residual from there,
    as torchvision's ``zero_init_residual``, Fixup and SkipInit do. Not StarGAN v2's initialisation."""
    for block in module.modules():
        if isinstance(block, (ResBlk, AdainResBlk)):
            nn.init.zeros_(block.conv2.weight)
            nn.init.zeros_(block.conv2.bias)


def default_base_dim(img_size: int) -> int:
    """StarGAN v2's first-layer width ``2**14 // img_size`` (64 channels at 256 px)."""
    return 2**14 // img_size


