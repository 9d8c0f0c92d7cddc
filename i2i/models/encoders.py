"""StarGAN v2 style encoder and multitask discriminator, built on one shared trunk design."""
from __future__ import annotations

import torch
from torch import nn

from i2i.models.blocks import ResBlk, check_img_size, default_base_dim, he_init
from i2i.models.mapping import select_domain


def conv_trunk(img_size: int, max_conv_dim: int, base_dim: int | None = None) -> tuple[list[nn.Module], int]:
    """Layers conv3x3, (log2(img_size) - 2) downsampling ResBlks, LReLU, conv4x4, LReLU; and the output width."""
    log2 = check_img_size(img_size)
    dim_in = base_dim or default_base_dim(img_size)
    layers: list[nn.Module] = [nn.Conv2d(3, dim_in, 3, 1, 1)]
    dim_out = dim_in
    for _ in range(log2 - 2):
        dim_out = min(dim_in * 2, max_conv_dim)
        layers.append(ResBlk(dim_in, dim_out, downsample=True))
        dim_in = dim_out
    layers += [nn.LeakyReLU(0.2), nn.Conv2d(dim_out, dim_out, 4, 1, 0), nn.LeakyReLU(0.2)]
    return layers, dim_out


class StyleEncoder(nn.Module):
    """``E(x, y)``: conv trunk to a feature vector, then one linear style head per domain."""

    def __init__(self, img_size: int = 256, style_dim: int = 64, num_domains: int = 2,
                 max_conv_dim: int = 512, base_dim: int | None = None):
        super().__init__()
        layers, dim_out = conv_trunk(img_size, max_conv_dim, base_dim)
        self.shared = nn.Sequential(*layers)
        self.unshared = nn.ModuleList(nn.Linear(dim_out, style_dim) for _ in range(num_domains))
        self.apply(he_init)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.shared(x).flatten(1)
        out = torch.stack([head(h) for head in self.unshared], dim=1)
        return select_domain(out, y)


class Discriminator(nn.Module):
    """``D(x, y)``: multitask discriminator, one real/fake logit per domain; returns the logit of domain y."""

    def __init__(self, img_size: int = 256, num_domains: int = 2, max_conv_dim: int = 512,
                 base_dim: int | None = None):
        super().__init__()
        layers, dim_out = conv_trunk(img_size, max_conv_dim, base_dim)
        self.main = nn.Sequential(*layers, nn.Conv2d(dim_out, num_domains, 1, 1, 0))
        self.apply(he_init)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return select_domain(self.main(x).flatten(1), y)
