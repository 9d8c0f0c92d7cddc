"""TUNIT's guiding network (clustering head + style head on one VGG trunk) and per-cluster style sampling."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

VGG11 = [1, "M", 2, "M", 4, 4, "M", 8, 8, "M", 8, 8, "M"]  # widths in units of width/1 (64 in TUNIT: VGG11)


class GuidingNetwork(nn.Module):
    """TUNIT's guiding network ``C``: a VGG11-BN trunk, global average pooling, and two linear heads.

    - ``cluster_logits(x)``: K pseudo-domain logits (trained with IIC between an image and its augmented view);
    - ``style(x)``: the style code (trained with a MoCo-style contrastive loss), not normalised, as in TUNIT's code.

    ``forward(x, y)`` returns the style code and ignores ``y``, so the network takes the style encoder's place
    (``E(x_ref, y)``) everywhere a model is used: sample grids, :class:`i2i.inference.Translator`, evaluation, app.
    ``width`` is the trunk's first width (TUNIT: 64, i.e. VGG11's 64-512 channels). Initialisation as TUNIT:
    Kaiming (fan_out) convolutions, BN at (1, 0), linear heads N(0, 0.01).
    """

    def __init__(self, img_size: int = 128, style_dim: int = 128, num_clusters: int = 10, width: int = 64):
        super().__init__()
        layers: list[nn.Module] = []
        dim_in = 3
        for v in VGG11:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(dim_in, v * width, 3, padding=1), nn.BatchNorm2d(v * width), nn.ReLU()]
                dim_in = v * width
        self.features = nn.Sequential(*layers)
        self.cluster_head = nn.Linear(dim_in, num_clusters)
        self.style_head = nn.Linear(dim_in, style_dim)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(self.features(x), 1).flatten(1)

    def style(self, x: torch.Tensor) -> torch.Tensor:
        """Style codes (N, style_dim)."""
        return self.style_head(self.trunk(x))

    def cluster_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Pseudo-domain logits (N, K)."""
        return self.cluster_head(self.trunk(x))

    def style_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both heads on one trunk pass."""
        h = self.trunk(x)
        return self.style_head(h), self.cluster_head(h)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.style(x)


class ClusterStyles(nn.Module):
    """Latent-guided styles for a model without a mapping network: ``M(z, y) = mu_y + sigma_y * z``.

    TUNIT translates with reference styles (or a cluster's mean style). To sample styles per pseudo-domain as
    StarGAN v2's mapping network does (latent sample grids, ``--mode latent`` evaluation, the app's seeds), this
    module keeps running per-cluster moments of the guiding network's style codes (buffers, no parameters,
    updated by the TUNIT trainer) and samples a diagonal Gaussian; ``z`` must have ``style_dim`` entries.
    """

    def __init__(self, style_dim: int, num_clusters: int, momentum: float = 0.99):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("mean", torch.zeros(num_clusters, style_dim))
        self.register_buffer("var", torch.ones(num_clusters, style_dim))
        self.register_buffer("seen", torch.zeros(num_clusters))

    @torch.no_grad()
    def update(self, styles: torch.Tensor, labels: torch.Tensor, reduce=None) -> None:
        """Move each cluster's moments towards those of ``styles`` (N, D) with pseudo-labels ``labels`` (N,).

        A cluster's first batch sets its moments; clusters absent from the batch keep theirs. ``reduce`` (e.g. a
        mean over ranks) is applied to the per-cluster sums and counts, so every rank gets the same moments.
        """
        k, d = self.mean.shape
        onehot = F.one_hot(labels, k).to(styles.dtype)  # (N, K)
        stats = torch.cat([onehot.t() @ styles, onehot.t() @ styles.pow(2), onehot.sum(0)[:, None]], 1)
        stats = reduce(stats) if reduce is not None else stats
        total, total_sq, count = stats.split([d, d, 1], dim=1)
        mean = total / count.clamp(min=1e-12)
        var = (total_sq / count.clamp(min=1e-12) - mean.pow(2)).clamp(min=0)
        rate = torch.where(self.seen > 0, 1.0 - self.momentum, 1.0)[:, None] * (count > 0)
        self.mean.lerp_(mean, rate)
        self.var.lerp_(var, rate)
        self.seen += count[:, 0]

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if z.size(1) != self.mean.size(1):
            raise ValueError(f"latent codes have {z.size(1)} entries; a TUNIT model samples styles with "
                             f"model.latent_dim == model.style_dim ({self.mean.size(1)})")
        return self.mean[y] + self.var[y].sqrt() * z
