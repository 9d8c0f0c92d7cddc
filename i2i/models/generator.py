"""StarGAN v2 generator: residual encoder, AdaIN residual decoder, optional face high-pass path."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from i2i.models.blocks import AdainResBlk, ResBlk, check_bottleneck_size, check_img_size, default_base_dim, he_init
from i2i.models.warp import StyleWarp


class HighPass(nn.Module):
    """Fixed 3x3 Laplacian-like high-pass filter divided by ``w_hpf``, applied per channel."""

    def __init__(self, w_hpf: float):
        super().__init__()
        kernel = torch.tensor([[-1.0, -1.0, -1.0], [-1.0, 8.0, -1.0], [-1.0, -1.0, -1.0]]) / w_hpf
        self.register_buffer("filter", kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.filter[None, None].to(x.dtype).expand(x.size(1), 1, 3, 3)
        return F.conv2d(x, weight, padding=1, groups=x.size(1))


class Generator(nn.Module):
    """Translate an image under a style code: ``G(x, s)``.

    Parameters
    ----------
    img_size : int
        Power of two from 32 to 512.
    style_dim : int
        Style code length.
    max_conv_dim : int
        Channel cap of every stage.
    w_hpf : float
        Weight of the face high-pass path; 0 disables it (one fewer stage, plain skip connections).
    base_dim : int, optional
        Width of the first layer; defaults to StarGAN v2's ``2**14 // img_size``.
    bottleneck_size : int, optional
        Spatial size of the encoder's output; defaults to StarGAN v2's 16 (one downsampling stage per halving
        from ``img_size``). At 32 px that is one halving (256 px has four); on the quick start a smaller one
        (8 or 4) lost the source's shape rather than let the decoder draw a new texture, and ``img_size`` itself
        (no downsampling stage: full resolution) keeps the content's edges, the texture passing through as well
        (docs/quickstart_recipe.md).
    warp : bool, optional
        Not in StarGAN v2: decode the content features moved by a style-conditioned smooth warp
        (:class:`~i2i.models.warp.StyleWarp`, starting as the identity), so that a style can change where
        strokes and outlines lie (slant, proportions), not only how they look.
    rgb_norm : bool, optional
        StarGAN v2's output layer starts with an instance norm (True). It standardises every feature channel per
        image, so the ratios between channels, which hold the source's colours, do not pass the shortcut path:
        with False (not in StarGAN v2) the source's colours reach the output unless the style changes them.

    Notes
    -----
    :meth:`encode_content` and :meth:`decode_content` are separate because the encoder does not depend on
    the style: one source encoded once can be decoded with many styles (interpolation, diversity).
    """

    def __init__(self, img_size: int = 256, style_dim: int = 64, max_conv_dim: int = 512,
                 w_hpf: float = 0, base_dim: int | None = None, bottleneck_size: int | None = None,
                 warp: bool = False, rgb_norm: bool = True):
        super().__init__()
        log2 = check_img_size(img_size)
        dim_in = base_dim or default_base_dim(img_size)
        self.img_size = img_size
        self.w_hpf = w_hpf
        self.from_rgb = nn.Conv2d(3, dim_in, 3, 1, 1)
        self.encode = nn.ModuleList()
        self.decode = nn.ModuleList()
        self.to_rgb = nn.Sequential(nn.InstanceNorm2d(dim_in, affine=True) if rgb_norm else nn.Identity(),
                                    nn.LeakyReLU(0.2), nn.Conv2d(dim_in, 3, 1, 1, 0))
        repeat_num = log2 - check_bottleneck_size(bottleneck_size, img_size) + (1 if w_hpf > 0 else 0)
        dim_out = dim_in
        for _ in range(repeat_num):
            dim_out = min(dim_in * 2, max_conv_dim)
            self.encode.append(ResBlk(dim_in, dim_out, normalize=True, downsample=True))
            self.decode.insert(0, AdainResBlk(dim_out, dim_in, style_dim, w_hpf=w_hpf, upsample=True))
            dim_in = dim_out
        for _ in range(2):
            self.encode.append(ResBlk(dim_out, dim_out, normalize=True))
            self.decode.insert(0, AdainResBlk(dim_out, dim_out, style_dim, w_hpf=w_hpf))
        if w_hpf > 0:
            self.hpf = HighPass(w_hpf)
        self.warp = StyleWarp(dim_out, style_dim) if warp else None
        self.apply(he_init)
        if self.warp is not None:
            self.warp.start_as_identity()

    def start_as_copy(self) -> None:
        """Initialise the shortcut path so that G starts as an exact copy of its input at the bottleneck's
        resolution (2x2 averages, upsampled, per halving), whatever the style. Not StarGAN v2's initialisation.

        Needs zeroed residual branches (:func:`~i2i.models.blocks.zero_init_residual`), no output norm and no
        high-pass path. ``from_rgb`` writes ``+x`` and ``-x`` into its first six channels (its other channels keep
        their random weights), every 1x1 shortcut passes channel ``i`` to channel ``i``, and ``to_rgb`` reads
        ``x = (lrelu(x) - lrelu(-x)) / 1.2`` back through its LeakyReLU(0.2). Each half's gain undoes the
        ``1 / sqrt(2)`` of its residual blocks. Channels that ``to_rgb`` does not read at first start random, so
        the residual branches have varied features to learn from.
        """
        if not isinstance(self.to_rgb[0], nn.Identity) or self.w_hpf > 0 or self.from_rgb.out_channels < 6:
            raise ValueError("a copy start needs rgb_norm=False, w_hpf=0 and a first width of at least 6")
        if any(block.conv2.weight.any() for block in (*self.encode, *self.decode)):
            raise ValueError("a copy start needs zeroed residual branches (zero_init_residual first)")
        with torch.no_grad():
            rgb = torch.eye(3)
            w = self.from_rgb.weight
            w[:6].zero_()
            w[:6, :, 1, 1] = torch.cat([rgb, -rgb]) * math.sqrt(2) ** len(self.encode)
            self.from_rgb.bias[:6].zero_()
            for block in (*self.encode, *self.decode):
                if block.learned_sc:
                    w = block.conv1x1.weight
                    n = min(w.shape[:2])
                    w[:n].zero_()
                    w[:n, :n, 0, 0] = torch.eye(n)
            out = self.to_rgb[-1]
            out.weight.zero_()
            out.weight[:, :6, 0, 0] = torch.cat([rgb, -rgb], 1) * math.sqrt(2) ** len(self.decode) / 1.2
            out.bias.zero_()

    def encode_content(self, x: torch.Tensor, masks=None):
        """Style-independent half: returns the bottleneck features and the skip cache for masks."""
        x = self.from_rgb(x)
        cache = {}
        for block in self.encode:
            if masks is not None and x.size(2) in (32, 64, 128):
                cache[x.size(2)] = x
            x = block(x)
        return x, cache

    def decode_content(self, h: torch.Tensor, s: torch.Tensor, cache=None, masks=None) -> torch.Tensor:
        """Style-dependent half: decode bottleneck features ``h`` with style codes ``s`` (same batch)."""
        x = h if self.warp is None else self.warp(h, s)
        for block in self.decode:
            x = block(x, s)
            if masks is not None and x.size(2) in (32, 64, 128):
                mask = masks[0] if x.size(2) == 32 else masks[1]
                mask = F.interpolate(mask, size=x.size(2), mode="bilinear")
                x = x + self.hpf(mask * cache[x.size(2)])
        return self.to_rgb(x)

    def decode_sources(self, h: torch.Tensor, cache: dict, masks, s: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Decode encoded sources ``rows`` (one source index per style in ``s``) with their skip caches and masks:
        one encoder pass per source serves any number of styles."""
        return self.decode_content(h[rows], s, {size: c[rows] for size, c in cache.items()},
                                   None if masks is None else tuple(m[rows] for m in masks))

    def decode_rows(self, x: torch.Tensor, styles: torch.Tensor, owners: torch.Tensor, masks=None,
                    chunk: int | None = None) -> torch.Tensor:
        """Sources (N, 3, S, S) under styles (R, D), row r translating source ``owners[r]``: (R, 3, S, S). Each
        source is encoded once; the R decodes run in one batch, or in batches of ``chunk``."""
        h, cache = self.encode_content(x, masks)
        step = chunk or styles.size(0)
        return torch.cat([self.decode_sources(h, cache, masks, styles[i:i + step], owners[i:i + step])
                          for i in range(0, styles.size(0), step)])

    def decode_many(self, x: torch.Tensor, styles: torch.Tensor, masks=None, chunk: int | None = None) -> torch.Tensor:
        """Every source under each of its styles: (N, 3, S, S), (N, K, D) -> (N, K, 3, S, S) (:meth:`decode_rows`)."""
        n, k = styles.shape[:2]
        owners = torch.arange(n, device=x.device).repeat_interleave(k)
        out = self.decode_rows(x, styles.flatten(0, 1), owners, masks, chunk)
        return out.view(n, k, *out.shape[1:])

    def forward(self, x: torch.Tensor, s: torch.Tensor, masks=None) -> torch.Tensor:
        h, cache = self.encode_content(x, masks)
        return self.decode_content(h, s, cache, masks)
