"""The networks (StarGAN v2's G, M, E, D; TUNIT's guiding network and cluster styles) and the set of one model;
:mod:`i2i.kinds` builds them per model kind."""
from __future__ import annotations

import copy
from dataclasses import dataclass, fields

from torch import nn

from i2i.models.encoders import Discriminator, StyleEncoder
from i2i.models.generator import Generator, HighPass
from i2i.models.guiding import ClusterStyles, GuidingNetwork
from i2i.models.mapping import MappingNetwork

__all__ = ["Generator", "HighPass", "MappingNetwork", "StyleEncoder", "Discriminator", "GuidingNetwork",
           "ClusterStyles", "Networks"]


@dataclass
class Networks:
    """The networks of one model; ``discriminator`` is None for inference-only (EMA) sets.

    TUNIT models (``model.kind: tunit``) hold a :class:`GuidingNetwork` as ``style_encoder`` and
    :class:`ClusterStyles` as ``mapping_network``; every user of a model calls them the same way.
    """

    generator: Generator
    mapping_network: MappingNetwork | ClusterStyles
    style_encoder: StyleEncoder | GuidingNetwork
    discriminator: Discriminator | None = None

    def items(self) -> list[tuple[str, nn.Module]]:
        """(name, module) pairs of the networks present, in a fixed order."""
        return [(f.name, getattr(self, f.name)) for f in fields(self) if getattr(self, f.name) is not None]

    def to(self, device) -> "Networks":
        for _, net in self.items():
            net.to(device)
        return self

    def ema_copy(self) -> "Networks":
        """Deep copies of G, M and E (no discriminator) in eval mode without gradients."""
        nets = Networks(*(copy.deepcopy(net) for net in (self.generator, self.mapping_network, self.style_encoder)))
        for _, net in nets.items():
            net.eval().requires_grad_(False)
        return nets
