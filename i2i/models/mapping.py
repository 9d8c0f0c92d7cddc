"""StarGAN v2 mapping network: latent code + domain -> style code."""
from __future__ import annotations

import torch
from torch import nn

from i2i.models.blocks import he_init


def select_domain(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Pick ``out[i, y[i]]`` from per-domain outputs of shape (N, num_domains, ...)."""
    return out[torch.arange(y.size(0), device=y.device), y]


class MappingNetwork(nn.Module):
    """``M(z, y)``: 4 shared (Linear+ReLU) layers, then per domain 3 x (Linear+ReLU) + Linear(style_dim)."""

    def __init__(self, latent_dim: int = 16, style_dim: int = 64, num_domains: int = 2, hidden_dim: int = 512):
        super().__init__()
        layers = [nn.Linear(latent_dim, hidden_dim), nn.ReLU()]
        for _ in range(3):
            layers += [nn.Linear(hidden_dim, hidden_dim), nn.ReLU()]
        self.shared = nn.Sequential(*layers)
        self.unshared = nn.ModuleList(
            nn.Sequential(nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
                          nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
                          nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
                          nn.Linear(hidden_dim, style_dim))
            for _ in range(num_domains))
        self.apply(he_init)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.shared(z)
        out = torch.stack([head(h) for head in self.unshared], dim=1)
        return select_domain(out, y)
