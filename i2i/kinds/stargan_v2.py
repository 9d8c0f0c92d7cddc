"""StarGAN v2 (Choi et al. 2020) with the paper's smoothing losses: domain folders give the labels, a mapping network
draws styles from noise and a style encoder reads them from references."""
from __future__ import annotations

import torch

from i2i.kinds.base import ModelKind
from i2i.models import MappingNetwork, StyleEncoder


class StarGANv2(ModelKind):
    """``model.kind: stargan_v2``."""

    name, title, trainer = "stargan_v2", "StarGAN v2", "i2i.training.stargan_v2:Trainer"

    def mapping_and_encoder(self, c, num_domains: int):
        return (MappingNetwork(c.latent_dim, c.style_dim, num_domains, c.hidden_dim),
                StyleEncoder(c.img_size, c.style_dim, num_domains, c.max_conv_dim, c.base_dim))

    def label_images(self, translator, chunks: list[torch.Tensor]) -> torch.Tensor:
        """The domain ``y`` whose style code ``E(x, y)`` lies nearest (Euclidean) to the centre of that domain's latent
        styles (mean of ``M(z, y)`` over 256 fixed z): the style encoder was trained to match the mapping network's
        codes of the image's own domain, and the EMA networks carry no discriminator."""
        k = translator.num_domains
        labels = torch.arange(k).repeat_interleave(256)
        centres = translator.latent_styles(labels.view(k, 256), torch.Generator().manual_seed(0)).mean(1)  # (K, D)
        out = []
        for c in chunks:
            every_domain = torch.arange(k).expand(c.size(0), k)
            codes = translator.reference_styles(c[:, None].expand(-1, k, -1, -1, -1), every_domain)
            out.append((codes - centres).norm(dim=-1).argmin(1).cpu())
        return torch.cat(out)
