"""The paper's generation protocols: style sampling, interpolation sequences and K translations per source."""
from __future__ import annotations

from pathlib import Path

import torch

from i2i.data.dataset import DomainImages
from i2i.data.images import to_float, to_uint8
from i2i.inference import Translator
from i2i.media import save_png

MODES = ("latent", "reference")


def task_generator(seed: int, src: int, trg: int, purpose: int) -> torch.Generator:
    """A CPU generator that depends only on (seed, task, purpose): results do not change with the metric
    selection, the batch size or the order tasks run in."""
    return torch.Generator().manual_seed(((seed * 1_000_003 + src) * 1009 + trg) * 17 + purpose)


class StyleSampler:
    """Random style codes of given domains: ``M(z, y)`` (latent mode) or ``E(x_ref, y)`` for a reference
    image drawn uniformly from the domain's validation images (reference mode)."""

    def __init__(self, translator: Translator, images: DomainImages, mode: str = "latent"):
        if mode not in MODES:
            raise ValueError(f"unknown style mode {mode!r}: choose one of {', '.join(MODES)}")
        self.translator, self.images, self.mode = translator, images, mode

    def __call__(self, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Style codes (..., D) for domain labels (...,)."""
        if self.mode == "latent":
            return self.translator.latent_styles(labels, generator)
        return self.reference_styles(labels, generator)[0]

    def reference_styles(self, labels: torch.Tensor, generator: torch.Generator
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(codes (..., D), reference indices (...,), reference images (..., 3, S, S))``: one reference drawn
        uniformly from each label's domain."""
        flat = labels.flatten()
        u = torch.rand(flat.shape, generator=generator, dtype=torch.float64)
        picks = self.images.starts[flat] + (u * self.images.counts[flat]).long()
        refs = to_float(torch.stack([self.images.image(int(i)) for i in picks]))
        refs = refs.view(*labels.shape, *refs.shape[1:])
        return self.translator.reference_styles(refs, labels), picks.view(labels.shape), refs


def source_batches(images: DomainImages, label: int, num_sources: int | None, batch: int):
    """Yield ``(first_index, float images in [-1, 1])`` over the first ``num_sources`` images of a domain."""
    indices = list(images.domain_indices(label))[:num_sources]
    for start in range(0, len(indices), batch):
        chunk = indices[start:start + batch]
        yield start, to_float(torch.stack([images.image(i) for i in chunk]))


def interpolation_frames(translator: Translator, sampler: StyleSampler, sources: torch.Tensor, first: int,
                         last: int, alphas: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Frames (N, F, 3, S, S) in [-1, 1]: each source under ``lerp(s_0, s_T, alpha)`` with s_0 drawn from
    domain ``first`` and s_T from domain ``last`` (inter-domain when they differ, intra-domain otherwise)."""
    n = sources.size(0)
    s0 = sampler(torch.full((n,), first), generator)
    s1 = sampler(torch.full((n,), last), generator)
    return translator.decode_interpolation(sources, s0, s1, alphas).clamp(-1, 1)


def random_translations(translator: Translator, sampler: StyleSampler, sources: torch.Tensor, target: int,
                        k: int, generator: torch.Generator) -> torch.Tensor:
    """K translations of each source to domain ``target`` with random styles: (N, K, 3, S, S) in [-1, 1]."""
    styles = sampler(torch.full((sources.size(0), k), target), generator)
    return translator.decode_many(sources, styles).clamp(-1, 1)


def reference_translations(translator: Translator, sampler: StyleSampler, sources: torch.Tensor, target: int,
                           k: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """K translations of each source guided by reference images drawn from domain ``target``, whatever the
    sampler's mode: ``(images (N, K, 3, S, S) in [-1, 1], reference indices (N, K), reference images)``."""
    styles, picks, refs = sampler.reference_styles(torch.full((sources.size(0), k), target), generator)
    return translator.decode_many(sources, styles).clamp(-1, 1), picks, refs


def save_generated(images: torch.Tensor, folder: Path, first_index: int) -> None:
    """Write (N, K, 3, S, S) images in [-1, 1] as ``folder/{source:04d}_{k:02d}.png``."""
    folder.mkdir(parents=True, exist_ok=True)
    for n, row in enumerate(to_uint8(images).cpu()):
        for k, image in enumerate(row):
            save_png(image, folder / f"{first_index + n:04d}_{k:02d}.png")
