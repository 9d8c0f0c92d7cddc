"""Discriminator probe: does a trained D tell real images of a domain from other domains' images recoloured to it?

A generator only changes what its discriminator tells apart. The probe scores, under each domain's head of the
training discriminator D (its non-EMA weights, ``nets.safetensors``), three sets of real images:

- ``real``: the domain's own images;
- ``real_rehued``: the same images, each recoloured to the hue of another image of the domain (a control:
  recolouring alone should cost little);
- ``other_recoloured``: every other domain's images recoloured to the hue of an image of this domain, i.e. a
  perfect recolouring translation that keeps the source's pattern;
- ``translations`` (when a ``translate`` function is given): the model's translations of those other images.

When ``other_recoloured`` scores about as real as ``real``, D does not use the pattern (texture), and the
adversarial loss gives G no reason to change it; when ``translations`` score far lower, what D penalises in
them is something else (e.g. blur). Recolouring rotates each image's colours about the grey axis
(:func:`i2i.colour.recolour_to`) so that its mean chroma angle becomes the reference's.
"""
from __future__ import annotations

from typing import Callable

import torch

from ..colour import chroma_angle, recolour_to
from ..data.dataset import DomainImages
from ..data.images import to_float
from ..models.encoders import Discriminator

SETS = ("real", "real_rehued", "other_recoloured", "translations")
TITLES = ("p(real): real", "real, re-hued", "other domains, recoloured", "their translations")


@torch.no_grad()
def probe_discriminator(discriminator: Discriminator, images: DomainImages, seed: int = 0, batch_size: int = 256,
                        translate: Callable[[torch.Tensor, int], torch.Tensor] | None = None
                        ) -> dict[str, dict[str, float]]:
    """``{domain: {set: mean p(real)}}`` for the SETS above (``translations`` only with ``translate(images,
    target_label)``); references are drawn with ``seed``. Images are decoded to float one batch at a time."""
    g = torch.Generator().manual_seed(seed)
    device = next(discriminator.parameters()).device
    angles = torch.cat([chroma_angle(to_float(chunk)) for chunk in images.images.split(batch_size)])

    def p_real(index: torch.Tensor, label: int,
               transform: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> float:
        """Mean p(real) under head ``label`` of the images ``index``, each batch passed through
        ``transform(images, rows)`` first (``rows``: the batch's positions in ``index``)."""
        probs = []
        for rows in torch.arange(len(index)).split(batch_size):
            x = to_float(images.images[index[rows]])
            x = x if transform is None else transform(x, rows)
            y = torch.full((x.size(0),), label, device=device)
            probs.append(torch.sigmoid(discriminator(x.to(device), y)).cpu())
        return torch.cat(probs).mean().item()

    result = {}
    for label, domain in enumerate(images.domains):
        own, other = (torch.nonzero(mask).flatten() for mask in (images.labels == label, images.labels != label))
        own_hues, other_hues = angles[own[torch.randint(len(own), (len(own) + len(other),), generator=g)]].split(
            [len(own), len(other)])
        result[domain] = {"real": p_real(own, label),
                          "real_rehued": p_real(own, label, lambda x, rows: recolour_to(x, own_hues[rows])),
                          "other_recoloured": p_real(other, label, lambda x, rows: recolour_to(x, other_hues[rows]))}
        if translate is not None:
            result[domain]["translations"] = p_real(other, label, lambda x, rows: translate(x, label))
    return result


def probe_table(result: dict[str, dict[str, float]]) -> str:
    """Markdown table of :func:`probe_discriminator`'s result, one row per domain and a mean row."""
    keys = [k for k in SETS if k in next(iter(result.values()))]
    lines = ["| Domain head | " + " | ".join(TITLES[SETS.index(k)] for k in keys) + " |",
             "|---" * (len(keys) + 1) + "|"]
    rows = list(result.items()) + [("**mean**", {k: sum(r[k] for r in result.values()) / len(result) for k in keys})]
    lines += [f"| {name} | " + " | ".join(f"{r[k]:.3f}" for k in keys) + " |" for name, r in rows]
    return "\n".join(lines)
