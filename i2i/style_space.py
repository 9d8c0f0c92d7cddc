"""A picture of the style space (paper Fig. 2c/d): codes of every domain projected to 2-D by PCA, with a path.

The projection is fitted once per model on mapping-network codes ``M(z, y)`` of every domain plus, when
validation images are given, the style-encoder codes ``E(x, y)`` of those images.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image, ImageDraw

from i2i.data.images import to_float
from i2i.inference import Translator
from i2i.plots import PALETTE


@dataclass
class Projection:
    """``(codes - mean) @ components``: the first two principal axes of the fitted codes."""

    mean: torch.Tensor
    components: torch.Tensor  # (D, 2)

    def __call__(self, codes: torch.Tensor) -> torch.Tensor:
        return (codes - self.mean) @ self.components


def fit_pca(codes: torch.Tensor) -> Projection:
    """The 2-D PCA of codes (N, D), N >= 2 (signs fixed so each axis' largest loading is positive)."""
    mean = codes.mean(0)
    _, _, vh = torch.linalg.svd(codes - mean, full_matrices=False)
    comps = vh[:2].T.clone()
    sign = torch.sign(comps.gather(0, comps.abs().argmax(0, keepdim=True)))
    return Projection(mean, comps * sign)


@torch.inference_mode()
def style_codes(translator: Translator, per_domain: int = 1000, images=None, seed: int = 0
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Codes (N, D), their domain labels (N,) and whether each came from the encoder (N,): ``per_domain``
    mapping-network codes per domain, then the encoder codes of ``images`` (a DomainImages), if given."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(translator.num_domains).repeat_interleave(per_domain)
    codes, encoded = [translator.latent_styles(labels, g).cpu()], [torch.zeros(len(labels), dtype=torch.bool)]
    if images is not None:
        x = to_float(torch.stack([images.image(i) for i in range(len(images))]))
        codes.append(translator.reference_styles(x, images.labels).cpu())
        labels = torch.cat([labels, images.labels])
        encoded.append(torch.ones(len(images), dtype=torch.bool))
    return torch.cat(codes), labels, torch.cat(encoded)


def draw_style_map(points: torch.Tensor, labels: torch.Tensor, encoded: torch.Tensor, domains: list[str],
                   path: torch.Tensor | None = None, size: int = 512) -> Image.Image:
    """Scatter of 2-D points coloured by domain (encoder codes as rings), a legend, and an optional path (F, 2)
    drawn as a line with its start (square) and end (diamond) marked."""
    shown = points if path is None else torch.cat([points, path])
    lo, hi = shown.min(0).values, shown.max(0).values
    margin, legend = 24, 18 * (len(domains) + 1) + 8
    scale = (size - 2 * margin) / (hi - lo).clamp(min=1e-6)

    def xy(p):
        q = (p - lo) * scale + margin
        return float(q[0]), float(size - q[1])  # y up

    img = Image.new("RGB", (size, size + legend), "white")
    draw = ImageDraw.Draw(img)
    for p, label, ring in zip(points, labels.tolist(), encoded.tolist()):
        x, y = xy(p)
        colour = PALETTE[label % len(PALETTE)]
        draw.ellipse((x - 2.5, y - 2.5, x + 2.5, y + 2.5), outline=colour, fill=None if ring else colour)
    if path is not None:
        line = [xy(p) for p in path]
        draw.line(line, fill="black", width=2)
        (x0, y0), (x1, y1) = line[0], line[-1]
        draw.rectangle((x0 - 5, y0 - 5, x0 + 5, y0 + 5), outline="black", width=2)
        draw.polygon([(x1, y1 - 7), (x1 + 7, y1), (x1, y1 + 7), (x1 - 7, y1)], outline="black", width=2)
    rings = "; rings: E(x, y) of val images" if bool(encoded.any()) else ""
    draw.text((margin, size + 6), f"filled: M(z, y){rings}; path: square start, diamond end", fill="black")
    for k, name in enumerate(domains):
        y = size + 22 + 18 * k
        draw.rectangle((margin, y + 3, margin + 10, y + 13), fill=PALETTE[k % len(PALETTE)])
        draw.text((margin + 16, y + 2), name, fill="black")
    return img
