"""What every model kind provides: its networks, its trainer, how it labels images, what its domains are."""
from __future__ import annotations

import importlib

import torch

from i2i.models import Discriminator, Generator, Networks
from i2i.models.blocks import default_base_dim, zero_init_residual


class ModelKind:
    """One model kind. Subclasses set ``name`` (the ``model.kind`` value), ``title`` (for model cards and tables),
    ``trainer`` (``"module:Class"`` of its :class:`i2i.training.trainer.TrainerBase`, imported when training starts:
    training sits above the kinds) and ``pseudo_domains`` (True: its domains are clusters it found in training, not
    the data's folders), and implement :meth:`mapping_and_encoder` and :meth:`label_images`."""

    name: str
    title: str
    trainer: str
    pseudo_domains: bool = False

    def build_networks(self, c, num_domains: int, discriminator: bool = True) -> Networks:
        """G (StarGAN v2's generator, with the recipe's zero-initialised residuals and copy start where asked), the
        kind's style networks and, with ``discriminator``, StarGAN v2's multitask D."""
        generator = Generator(c.img_size, c.style_dim, c.max_conv_dim, c.w_hpf, c.base_dim, c.bottleneck_size, c.warp,
                              c.rgb_norm)
        if c.zero_init_residual:
            zero_init_residual(generator)
        if c.copy_start:
            generator.start_as_copy()
        mapping, encoder = self.mapping_and_encoder(c, num_domains)
        d = None
        if discriminator:
            base_dim = (c.base_dim or default_base_dim(c.img_size)) * c.disc_width
            d = Discriminator(c.img_size, num_domains, c.max_conv_dim * c.disc_width, base_dim)
        return Networks(generator, mapping, encoder, d)

    def mapping_and_encoder(self, c, num_domains: int):
        """The kind's ``(mapping_network, style_encoder)``: where latent styles and reference styles come from."""
        raise NotImplementedError

    def label_images(self, translator, chunks: list[torch.Tensor]) -> torch.Tensor:
        """The (pseudo-)domain label (N,) of batches of prepared images (float, [-1, 1]) under ``translator``."""
        raise NotImplementedError

    def trainer_class(self):
        """The kind's trainer class (imported here, on first use)."""
        module, name = self.trainer.split(":")
        return getattr(importlib.import_module(module), name)
