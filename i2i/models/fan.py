"""FAN face-alignment network (one hourglass, 98 landmarks + boundary) and StarGAN v2's face masks from it.

Module and parameter names follow the released ``wing.ckpt`` (``{'state_dict': ...}``) so its weights
load unchanged. Only what the generator needs is here: heatmaps -> the two masks of its high-pass path.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

FAN_SIZE = 256  # FAN runs at 256 px; its heatmaps are 64 px


def coordinate_channels(size: int) -> torch.Tensor:
    """CoordConv's extra channels (3, size, size): row and column coordinates in [-1, 1] and their radius / max."""
    ramp = torch.arange(size, dtype=torch.float32) / (size - 1) * 2 - 1
    rows, cols = ramp[:, None].expand(size, size), ramp[None, :].expand(size, size)
    radius = torch.sqrt(rows ** 2 + cols ** 2)
    return torch.stack([rows, cols, radius / radius.max()])


class CoordConv(nn.Module):
    """A convolution over the input with ``coordinate_channels`` appended (CoordConv with the radius channel)."""

    def __init__(self, size: int, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0):
        super().__init__()
        self.register_buffer("coords", coordinate_channels(size)[None], persistent=False)
        self.conv = nn.Conv2d(in_channels + 3, out_channels, kernel_size, stride, padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([x, self.coords.to(x.dtype).expand(x.size(0), -1, -1, -1)], 1))


class ConvBlock(nn.Module):
    """FAN's pre-activation block: three BN-ReLU-conv3x3 stages (out/2, out/4, out/4 channels) concatenated,
    plus the input (through BN-ReLU-conv1x1 when the width changes)."""

    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(dim_in), nn.Conv2d(dim_in, dim_out // 2, 3, 1, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(dim_out // 2), nn.Conv2d(dim_out // 2, dim_out // 4, 3, 1, 1, bias=False)
        self.bn3, self.conv3 = nn.BatchNorm2d(dim_out // 4), nn.Conv2d(dim_out // 4, dim_out // 4, 3, 1, 1, bias=False)
        self.downsample = None
        if dim_in != dim_out:
            self.downsample = nn.Sequential(nn.BatchNorm2d(dim_in), nn.ReLU(),
                                            nn.Conv2d(dim_in, dim_out, 1, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out1 = self.conv1(F.relu(self.bn1(x)))
        out2 = self.conv2(F.relu(self.bn2(out1)))
        out3 = self.conv3(F.relu(self.bn3(out2)))
        residual = x if self.downsample is None else self.downsample(x)
        return torch.cat([out1, out2, out3], 1) + residual


class HourGlass(nn.Module):
    """Recursive hourglass of ``depth`` levels after a 1x1 CoordConv: ``b1`` keeps resolution, ``b2`` -> deeper
    level (or ``b2_plus`` at the bottom) -> ``b3`` -> nearest 2x upsampling, summed."""

    def __init__(self, depth: int = 4, dim: int = 256, size: int = 64):
        super().__init__()
        self.depth = depth
        self.coordconv = CoordConv(size, dim, dim, kernel_size=1)
        for level in range(depth, 0, -1):
            self.add_module(f"b1_{level}", ConvBlock(dim, dim))
            self.add_module(f"b2_{level}", ConvBlock(dim, dim))
            self.add_module(f"b3_{level}", ConvBlock(dim, dim))
        self.add_module("b2_plus_1", ConvBlock(dim, dim))

    def _level(self, level: int, x: torch.Tensor) -> torch.Tensor:
        up = self._modules[f"b1_{level}"](x)
        low = self._modules[f"b2_{level}"](F.avg_pool2d(x, 2, stride=2))
        low = self._level(level - 1, low) if level > 1 else self._modules["b2_plus_1"](low)
        low = self._modules[f"b3_{level}"](low)
        return up + F.interpolate(low, scale_factor=2, mode="nearest")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._level(self.depth, self.coordconv(x))


class FAN(nn.Module):
    """Face-alignment network of StarGAN v2 (AdaptiveWingLoss FAN, one module): RGB in [0, 1] at 256 px ->
    99 heatmaps at 64 px (98 landmarks and one boundary map)."""

    def __init__(self, num_landmarks: int = 98):
        super().__init__()
        self.conv1 = CoordConv(FAN_SIZE, 3, 64, kernel_size=7, stride=2, padding=3)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2, self.conv3, self.conv4 = ConvBlock(64, 128), ConvBlock(128, 128), ConvBlock(128, 256)
        self.m0 = HourGlass(4, 256, FAN_SIZE // 4)
        self.top_m_0 = ConvBlock(256, 256)
        self.conv_last0 = nn.Conv2d(256, 256, 1, 1, 0)
        self.bn_end0 = nn.BatchNorm2d(256)
        self.l0 = nn.Conv2d(256, num_landmarks + 1, 1, 1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.conv4(self.conv3(F.avg_pool2d(self.conv2(x), 2, stride=2)))
        x = self.top_m_0(self.m0(x))
        return self.l0(F.relu(self.bn_end0(self.conv_last0(x))))

    @torch.no_grad()
    def heatmaps(self, x: torch.Tensor) -> torch.Tensor:
        """The 98 landmark heatmaps of images in [-1, 1] (N, 3, H, W), upsampled to 256 px (N, 98, 256, 256)."""
        x = F.interpolate(x, size=FAN_SIZE, mode="bilinear")
        maps = self(x * 0.5 + 0.5)[:, :-1]
        return F.interpolate(maps, scale_factor=FAN_SIZE // maps.size(2), mode="bilinear", align_corners=True)

    @torch.no_grad()
    def face_masks(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """StarGAN v2's ``(mask0, mask1)`` (N, 1, 256, 256) for images in [-1, 1]: see :func:`heatmaps_to_masks`."""
        return heatmaps_to_masks(self.heatmaps(x))


# Landmark index ranges [start, end) of the 98-point WFLW layout, as StarGAN v2 groups them.
CHIN, EYEBROWS, NOSE, NOSTRILS, EYES = (8, 25), (33, 51), (51, 55), (55, 60), (60, 76)
LIP_UPPER, LIP_LOWER, LIP_INNER, LIP_EDGES = (77, 82), (83, 88), (88, 96), (76, 82)
EYEBROW_EDGES = (33, 46)


def shift_rows(x: torch.Tensor, n: int) -> torch.Tensor:
    """Move heatmaps up by ``n`` pixels (down for negative ``n``), wrapping around: StarGAN v2's ``shift``."""
    return torch.roll(x, -n, dims=2)


def heatmaps_to_masks(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """StarGAN v2's mask recipe from 98 heatmaps (N, 98, H, W): ``mask0`` (whole face: chin line, brows, nose,
    eyes, lips; used at the generator's 32 px stage) and ``mask1`` without chin line, brows and mouth (used
    at 64 and 128 px), both summed over landmarks and clamped to [0, 1].

    Steps, in the authors' order: zero values below 0.1; min-max normalise each map (eps 1e-6); per part,
    shift vertically and raise to a power; zero some landmarks; shift the nose; sharpen and extend the eyes.
    The eye shifts (-8, -24 px) are not scaled with the size, as in the authors' code. Unlike it, NaNs are
    zeroed in both masks (the original zeroes them in the first only).
    """
    x = torch.where(x < 0.1, torch.zeros_like(x), x)
    flat = x.flatten(2)
    lo, hi = flat.min(2, keepdim=True)[0], flat.max(2, keepdim=True)[0]
    x = ((flat - lo) / (hi - lo + 1e-6)).view_as(x).clone()
    sw = x.size(2) // 256
    for (start, end), shift, power in [(CHIN, 0, 3), (EYEBROWS, -7 * sw, 2), (NOSTRILS, 8 * sw, 4),
                                       (LIP_UPPER, -8 * sw, 4), (LIP_LOWER, 8 * sw, 4), (LIP_INNER, -2 * sw, 3)]:
        x[:, start:end] = shift_rows(x[:, start:end], shift) ** power
    zero = [*range(0, CHIN[0]), *range(CHIN[1], 33), EYEBROW_EDGES[0], EYEBROW_EDGES[1], *LIP_EDGES]
    x[:, zero] = 0
    x[:, NOSE[0] + 1:NOSE[1]] = shift_rows(x[:, NOSE[0] + 1:NOSE[1]], 4 * sw)
    eyes = x[:, EYES[0]:EYES[1]]
    x[:, EYES[0]:EYES[1]] = shift_rows(eyes, -8) ** 3 + shift_rows(eyes, -24)
    x2 = x.clone()
    for start, end in (CHIN, (LIP_EDGES[0], LIP_INNER[1]), EYEBROWS):
        x2[:, start:end] = 0
    masks = [torch.nan_to_num(m.sum(1, keepdim=True), nan=0.0).clamp(0, 1) for m in (x, x2)]
    return masks[0], masks[1]


def fan_state_from_wing(path: str | Path) -> dict[str, torch.Tensor]:
    """The FAN state dict of a released ``wing.ckpt`` (``{'state_dict': ...}``, loaded with ``weights_only=True``)."""
    from i2i.weights import load_state

    ckpt = load_state(path)
    state = ckpt.get("state_dict") if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path} is not a FAN checkpoint: expected {{'state_dict': {{name: tensor}}}} as in "
                         "StarGAN v2's wing.ckpt")
    return state


def load_fan(path: str | Path, device: str | torch.device = "cpu") -> FAN:
    """A frozen FAN in eval mode from ``fan.safetensors`` or a released ``wing.ckpt``; mismatches named."""
    from i2i.rundir import CheckpointMismatchError, describe_mismatch, read_weights

    path = Path(path)
    state = read_weights(path) if path.suffix == ".safetensors" else fan_state_from_wing(path)
    fan = FAN()
    problems = describe_mismatch(fan, state, "fan")
    if problems:
        raise CheckpointMismatchError(f"{path} does not fit the FAN network:\n  " + "\n  ".join(problems[:12]))
    fan.load_state_dict(state)
    return fan.to(device).eval().requires_grad_(False)
