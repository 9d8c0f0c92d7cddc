"""Paired ground truth by file name: where ``val/<domain>/<name>.png`` shows the same content in every domain
(``i2i make-emoji`` data, or a user's own paired folders), every translation has an answer.

- reference-guided: the answer to translating source ``val/<src>/<name>`` with a reference of domain ``trg`` is
  ``val/<trg>/<name>``, the source's content as the reference's domain draws it. Scored by LPIPS, L1 and SSIM, beside
  the same for the source itself (the copy: no translation at all) and for the reference itself;
- latent-guided: content retrieval, the rank of the answer among all validation images of the target domain by
  distance to the translation (top-1, top-5), beside the same for the copy. The distance is the mean absolute pixel
  difference: colour, shape and place all count, and no network is needed.

A data set is paired when at least half of its validation images have a same-named partner in every other domain.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

PAIRED_SHARE = 0.5  # the share of validation images with a partner in every domain that makes a data set paired
TOP_K = (1, 5)


@dataclass
class PairedTruth:
    """For every validation image (in the order of :class:`i2i.data.DomainImages`), the index of its same-named
    partner in each domain (itself in its own; -1 where that domain has none)."""

    partner: torch.Tensor  # (N, D) long
    labels: torch.Tensor  # (N,) domain of each image

    def answers(self, index: torch.Tensor, trg: int) -> torch.Tensor:
        """Validation indices of the answers of sources ``index`` (any shape) translated into domain ``trg``."""
        return self.partner[index, trg]


def paired_truth(val) -> PairedTruth | None:
    """The :class:`PairedTruth` of a validation split (:class:`i2i.data.DomainImages`), or None where the data set
    is not paired."""
    n, d = len(val), val.num_domains
    by_name = {(int(label), path.stem): i for i, (path, label) in enumerate(zip(val.paths, val.labels.tolist()))}
    partner = torch.tensor([[by_name.get((k, path.stem), -1) for k in range(d)] for path in val.paths],
                           dtype=torch.long).view(n, d)
    complete = (partner >= 0).all(1).float().mean().item() if n else 0.0
    return PairedTruth(partner, val.labels.clone()) if complete >= PAIRED_SHARE else None


def is_paired_folder(root) -> bool:
    """Whether ``root/val`` is paired by file name (read from the file names alone, nothing decoded)."""
    from i2i.data.dataset import scan_split

    try:
        domains, files = scan_split(root, "val")
    except (OSError, ValueError):
        return False
    names = [{p.stem for p in group} for group in files]
    if len(names) < 2 or not any(names):
        return False
    complete = sum(len(set.intersection(*names)) for _ in names)
    return complete >= PAIRED_SHARE * sum(len(n) for n in names)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).float()


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """SSIM (Wang et al. 2004) of images (N, C, H, W) in [0, 1]: an 11 x 11 Gaussian window (sigma 1.5), K1 0.01,
    K2 0.03, population (co)variances, valid windows only, averaged over pixels and channels, as
    ``skimage.metrics.structural_similarity(gaussian_weights=True, data_range=1)`` computes it: (N,)."""
    c = a.size(1)
    window = _gaussian_window().to(a)[None, None].expand(c, 1, -1, -1)

    def blur(t):
        return F.conv2d(t, window, groups=c)
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a ** 2
    var_b = blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return s.mean((1, 2, 3))


def pixel_l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of images (..., 3, S, S) in [-1, 1], on the [0, 1] scale: (...)."""
    return (a.float() - b.float()).abs().mean((-3, -2, -1)) / 2


def reference_distances(lpips, images: torch.Tensor, answers: torch.Tensor) -> dict[str, torch.Tensor]:
    """LPIPS, L1 and SSIM of images (M, 3, S, S) against their answers (M, 3, S, S), both in [-1, 1]: each (M,)."""
    return {"lpips": lpips(images, answers).flatten(), "l1": pixel_l1(images, answers),
            "ssim": ssim((images.float() + 1) / 2, (answers.float() + 1) / 2)}


def retrieval_hits(images: torch.Tensor, gallery: torch.Tensor, answer: torch.Tensor,
                   ks: tuple[int, ...] = TOP_K) -> dict[int, torch.Tensor]:
    """Whether the answer (a row of ``gallery`` (G, 3, S, S), index per image) is among the ``k`` gallery images
    nearest (pixel L1) to each image (M, 3, S, S): {k: (M,) float 0/1}. Ties count against the answer."""
    d = torch.cdist(images.flatten(1).float(), gallery.flatten(1).float(), p=1)  # (M, G)
    own = d.gather(1, answer[:, None])
    rank = (d <= own).sum(1) - 1  # gallery images at least as near as the answer, the answer itself left out
    return {k: (rank < k).float() for k in ks}
