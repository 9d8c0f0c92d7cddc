"""The registry of model kinds: ``model.kind`` names one :class:`ModelKind`, which builds, trains and labels its model.

Adding a kind is one module here (a :class:`ModelKind` subclass and its networks) plus its name in
``i2i.config.ModelConfig.kind``; everything else asks the kind.
"""
from __future__ import annotations

from i2i.kinds.base import ModelKind
from i2i.kinds.stargan_v2 import StarGANv2
from i2i.kinds.tunit import Tunit
from i2i.models import Networks

KINDS: dict[str, ModelKind] = {kind.name: kind for kind in (StarGANv2(), Tunit())}


def model_kind(model_cfg) -> ModelKind:
    """The kind of a :class:`i2i.config.ModelConfig` (its ``kind`` field)."""
    return KINDS[model_cfg.kind]


def build_networks(model_cfg, num_domains: int, discriminator: bool = True) -> Networks:
    """The networks of ``model_cfg``'s kind for ``num_domains`` (pseudo-)domains, He-initialised; without D when
    ``discriminator`` is False (inference)."""
    return model_kind(model_cfg).build_networks(model_cfg, num_domains, discriminator)
