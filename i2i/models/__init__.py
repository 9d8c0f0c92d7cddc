"""Networks of StarGAN v2 (Generator, MappingNetwork, StyleEncoder, Discriminator) and their builder."""
from __future__ import annotations

import copy
from dataclasses import dataclass, fields

from torch import nn

from .encoders import Discriminator, StyleEncoder
from .generator import Generator, HighPass
from .guiding import ClusterStyles, GuidingNetwork
from .blocks import zero_init_residual
from .mapping import MappingNetwork

__all__ = ["Generator", "HighPass", "MappingNetwork", "StyleEncoder", "Discriminator", "GuidingNetwork",
           "ClusterStyles", "Networks", "build_networks"]


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


def build_networks(model_cfg, num_domains: int, discriminator: bool = True) -> Networks:
    """Build G, M, E (and D) from a :class:`i2i.config.ModelConfig`, He-initialised."""
    c = model_cfg
    generator = Generator(c.img_size, c.style_dim, c.max_conv_dim, c.w_hpf, c.base_dim, c.bottleneck_size, c.warp)
    if getattr(c, "zero_init_residual", False):
        zero_init_residual(generator)
    if getattr(c, "kind", "stargan_v2") == "tunit":  # num_domains is the number of pseudo-domains (clusters)
        mapping, encoder = (ClusterStyles(c.style_dim, num_domains),
                            GuidingNetwork(c.img_size, c.style_dim, num_domains, c.guide_width))
    else:
        mapping, encoder = (MappingNetwork(c.latent_dim, c.style_dim, num_domains, c.hidden_dim),
                            StyleEncoder(c.img_size, c.style_dim, num_domains, c.max_conv_dim, c.base_dim))
    return Networks(
        generator, mapping, encoder,
        Discriminator(c.img_size, num_domains, c.max_conv_dim, c.base_dim) if discriminator else None,
    )
