"""TUNIT (Baek et al. 2021), truly unsupervised: a guiding network clusters the images into ``model.num_clusters``
pseudo-domains and encodes their styles (it takes the style encoder's place); latent styles are drawn per cluster
(:class:`i2i.models.ClusterStyles`, in the mapping network's place)."""
from __future__ import annotations

import torch

from i2i.kinds.base import ModelKind
from i2i.models import ClusterStyles, GuidingNetwork


class Tunit(ModelKind):
    """``model.kind: tunit``."""

    name, title, trainer = "tunit", "TUNIT", "i2i.training.tunit:TunitTrainer"
    pseudo_domains = True

    def mapping_and_encoder(self, c, num_domains: int):
        return ClusterStyles(c.style_dim, num_domains), GuidingNetwork(c.img_size, c.style_dim, num_domains,
                                                                       c.guide_width)

    def label_images(self, translator, chunks: list[torch.Tensor]) -> torch.Tensor:
        """The guiding network's cluster of each image."""
        encoder = translator.nets.style_encoder
        return torch.cat([encoder.cluster_logits(c.to(translator.device)).argmax(1).cpu() for c in chunks])
