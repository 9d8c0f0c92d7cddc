"""Paired ground truth of glyph data (``i2i make-glyphs``): ink IoU and L1 against the exact answer.

A glyph data set holds, for every validation image, its content (character, size, offset) drawn in every typeface
of the data set (``truth.npz``). So a translation can be scored against what it should be:

- reference-guided: the source's character in the *reference's* typeface, at the source's size and place;
- latent-guided: the nearest of the source's character in the target domain's typefaces (a mapping-network style
  is some typeface of the domain, or between them).

Ink is where an image's grey level (channel mean) is above the middle of the data set's ink and ground levels;
the ground truth's ink is where its coverage is at least one half. IoU is taken on these masks (1 when both are
empty), L1 on grey levels in [0, 1] against the ground truth drawn with the data set's two levels.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from i2i.data.glyphs import GLYPHS_FILE, TRUTH_FILE
from i2i.data.output import MANIFEST

from i2i.evaluation.content import mask_iou

# i2i ablate on glyph data: PS with both distances beside the ground-truth metrics (FID and LPIPS diversity say
# little about black-and-white glyphs at 32 px), and the style paths its figure interpolates
ABLATION_METRICS = ("ps", "ps_pixel", "style_acc", "char_acc", "glyph_reference", "glyph_latent", "glyph_path")
STYLE_PATHS = (("regular", "bold"), ("regular", "italic"))
MONOTONE_TOLERANCE = 0.01  # a path's p(target) may dip by this much between frames and still count as rising


def is_glyph_data(root: str | Path | None) -> bool:
    """Whether a data root was written by ``i2i make-glyphs`` (it holds the ground truth)."""
    return root is not None and all((Path(root) / name).is_file() for name in (GLYPHS_FILE, TRUTH_FILE, MANIFEST))


@dataclass
class GlyphTruth:
    """The ground truth of a set of images (in the order given): their character and typeface, every typeface's
    domain, and the images' content drawn in every typeface."""

    chars: str
    char: torch.Tensor  # (N,) index into chars
    font: torch.Tensor  # (N,) typeface of each image
    font_domain: torch.Tensor  # (F,) domain label of each typeface
    coverage: torch.Tensor  # (N, F, S, S) float ink coverage in [0, 1]; rows of images outside val/ are NaN
    ink: float
    ground: float

    @property
    def threshold(self) -> float:
        """Grey level in [0, 1] above which a pixel is ink."""
        return (self.ink + self.ground) / 2

    def ink_masks(self, images: torch.Tensor) -> torch.Tensor:
        """Ink masks (..., S, S) of images (..., 3, S, S) in [-1, 1]."""
        return (images.float().mean(-3) + 1) / 2 > self.threshold

    def truth_masks(self, index: torch.Tensor, fonts: torch.Tensor) -> torch.Tensor:
        """Ink masks of the content of images ``index`` drawn in typefaces ``fonts`` (same shape): (..., S, S)."""
        return self.coverage[index, fonts] >= 0.5

    def truth_levels(self, index: torch.Tensor, fonts: torch.Tensor) -> torch.Tensor:
        """Grey levels in [0, 1] of that content drawn with the data set's ink and ground levels."""
        return self.ground + (self.ink - self.ground) * self.coverage[index, fonts]


def _manifest_rows(root: Path, paths: list[Path]) -> tuple[dict, list[dict]]:
    """``glyphs.json`` and the manifest rows of the images ``paths`` under ``root``, in order."""
    meta = json.loads((root / GLYPHS_FILE).read_text())
    with open(root / MANIFEST, newline="") as f:
        rows = {row["file"]: row for row in csv.DictReader(f)}
    keys = [Path(p).relative_to(root).as_posix() for p in paths]
    missing = [k for k in keys if k not in rows]
    if missing:
        raise ValueError(f"{len(missing)} image(s) of {root} are not in its {MANIFEST} (e.g. {missing[0]}): the glyph "
                         "metrics need the data set as `i2i make-glyphs` wrote it")
    return meta, [rows[k] for k in keys]


def glyph_chars(images) -> tuple[torch.Tensor, int]:
    """The character labels of a split's images (:class:`i2i.data.DomainImages` of a glyph data set) and the number
    of characters: the targets of the character classifier."""
    meta, rows = _manifest_rows(images.root, images.paths)
    return torch.tensor([meta["chars"].index(row["char"]) for row in rows]), len(meta["chars"])


def read_glyph_truth(root: str | Path, paths: list[Path], domains: list[str], img_size: int) -> GlyphTruth:
    """The :class:`GlyphTruth` of the images ``paths`` (under ``root``), with ``domains`` in label order; the
    ground truth is resized (area) when ``img_size`` differs from the data set's."""
    root = Path(root)
    meta, rows = _manifest_rows(root, paths)
    with np.load(root / TRUTH_FILE) as npz:
        truth_row = {str(name): i for i, name in enumerate(npz["files"])}
        coverage = torch.from_numpy(npz["coverage"]).float() / 255.0
    unknown = sorted(set(f["domain"] for f in meta["fonts"]) - set(domains))
    if unknown:
        raise ValueError(f"{root / GLYPHS_FILE} has typefaces of domains {', '.join(unknown)} that the model lacks "
                         f"({', '.join(domains)})")
    chars = meta["chars"]
    nan = torch.full(coverage.shape[1:], float("nan"))
    cov = torch.stack([coverage[truth_row[row["file"]]] if row["file"] in truth_row else nan for row in rows])
    if cov.size(-1) != img_size:
        cov = F.interpolate(cov, size=img_size, mode="area" if cov.size(-1) > img_size else "bilinear")
    return GlyphTruth(chars=chars, char=torch.tensor([chars.index(row["char"]) for row in rows]),
                      font=torch.tensor([int(row["font"]) for row in rows]),
                      font_domain=torch.tensor([domains.index(f["domain"]) for f in meta["fonts"]]),
                      coverage=cov, ink=float(meta["ink"]), ground=float(meta["ground"]))


def reference_scores(truth: GlyphTruth, images: torch.Tensor, sources: torch.Tensor, references: torch.Tensor,
                     index: torch.Tensor, ref_index: torch.Tensor) -> dict[str, torch.Tensor]:
    """Reference-guided translations (N, K, 3, S, S) of sources ``index`` (N,) with references ``ref_index`` (N, K),
    against the source's content in each reference's typeface: ``iou``, ``l1``, and the IoU of the two reference
    points, the ``source`` itself (N, 3, S, S) and the ``reference`` itself (N, K, 3, S, S). Each (N * K,)."""
    k = images.size(1)
    rows, fonts = index[:, None].expand(-1, k), truth.font[ref_index]
    true = truth.truth_masks(rows, fonts)
    grey = (images.float().mean(-3) + 1) / 2
    return {"iou": mask_iou(truth.ink_masks(images).flatten(0, 1), true.flatten(0, 1)),
            "l1": (grey - truth.truth_levels(rows, fonts)).abs().mean((-2, -1)).flatten(),
            "source": mask_iou(truth.ink_masks(sources)[:, None].expand_as(true).flatten(0, 1), true.flatten(0, 1)),
            "reference": mask_iou(truth.ink_masks(references).flatten(0, 1), true.flatten(0, 1))}


def nearest_iou(truth: GlyphTruth, masks: torch.Tensor, index: torch.Tensor, target: int) -> torch.Tensor:
    """Best ink IoU of masks (N, K, S, S) made from images ``index`` (N,) with the images' content drawn in any
    typeface of domain ``target``: (N * K,)."""
    fonts = (truth.font_domain == target).nonzero().flatten()
    n, k = masks.shape[:2]
    true = truth.truth_masks(index[:, None].expand(-1, fonts.numel()), fonts.expand(n, -1))  # (N, F', S, S)
    pairs = mask_iou(masks[:, :, None].expand(-1, -1, fonts.numel(), -1, -1).flatten(0, 2),
                     true[:, None].expand(-1, k, -1, -1, -1).flatten(0, 2))
    return pairs.view(n * k, fonts.numel()).amax(1)


def first_crossing(p: torch.Tensor, alphas: torch.Tensor, level: float) -> torch.Tensor:
    """The interpolation weight of the first frame at which each sequence of probabilities (N, F) reaches ``level``
    (1 where it never does): (N,)."""
    reached = p >= level
    first = alphas.to(p)[reached.float().argmax(1)]  # argmax: the first True (0 where there is none)
    return torch.where(reached.any(1), first, torch.ones_like(first))


def transition(p: torch.Tensor, alphas: torch.Tensor) -> dict[str, torch.Tensor]:
    """Where along each path (N, F) the style classifier's probability of the target changes: the ``midpoint``
    (first alpha at which it reaches 0.5) and the ``width`` from 0.1 to 0.9 (small: an abrupt switch; about 0.8 for
    a probability that rises linearly with alpha)."""
    return {"midpoint": first_crossing(p, alphas, 0.5),
            "width": first_crossing(p, alphas, 0.9) - first_crossing(p, alphas, 0.1)}


def rises_monotonically(p: torch.Tensor, tolerance: float = MONOTONE_TOLERANCE) -> torch.Tensor:
    """Whether each sequence of probabilities (N, F) never falls by more than ``tolerance`` from one frame to the
    next: (N,) float 0/1."""
    return (p.diff(dim=1) >= -tolerance).all(1).float()
