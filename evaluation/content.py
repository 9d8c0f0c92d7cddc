"""Ground-truth content preservation: foreground IoU and centre-of-mass error against known shape masks.

For data whose content is known (``i2i make-synthetic`` writes every image's shape parameters to
``manifest.csv``), a translation keeps the content when its foreground covers the source's true shape.
The translation's foreground is segmented without the generator's help: a plane is fitted per colour
channel to the image border (the background, gradients included), every pixel's colour distance from
that plane is thresholded (the lower of the border's noise level and Otsu's cut), and a 3x3 closing
fills gaps a texture leaves.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from i2i.data.output import MANIFEST

MIN_CONTRAST = 0.08  # colour distance (RGB in [0, 1]) below which an image is taken to have no foreground
CONTENT_KEYS = ("shape", "cx", "cy", "size", "angle")


def _border(h: int, w: int, width: int) -> torch.Tensor:
    ring = torch.zeros(h, w, dtype=torch.bool)
    ring[:width], ring[-width:], ring[:, :width], ring[:, -width:] = True, True, True, True
    return ring


def background_distance(images: torch.Tensor, border: int = 2, refits: int = 2) -> torch.Tensor:
    """Per-pixel colour distance from the background: (N, 3, H, W) in [-1, 1] -> (N, H, W) in RGB [0, 1] units.

    The background is a plane ``a + b x + c y`` per channel, fitted by least squares to the half of the
    ``border``-pixel ring closest to the ring's median colour, then refitted ``refits`` times on the half
    closest to the previous fit, so a shape that touches the border does not pull the plane towards itself.
    """
    n, _, h, w = images.shape
    x = ((images.float() + 1) / 2).permute(0, 2, 3, 1)  # (N, H, W, 3)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    design = torch.stack([torch.ones_like(xx), xx, yy], -1).to(x.device)  # (H, W, 3)
    ring = _border(h, w, border).to(x.device)
    a, b = design[ring], x[:, ring]  # (P, 3), (N, P, 3 channels)
    residual = (b - b.median(1, keepdim=True).values).norm(dim=-1)  # robust start: the ring's median colour
    weights = (residual <= residual.median(1, keepdim=True).values).float()
    for _ in range(refits + 1):
        aw = a * weights[..., None]  # (N, P, 3)
        coef = torch.linalg.solve(aw.transpose(1, 2) @ a + 1e-6 * torch.eye(3, device=x.device),
                                  aw.transpose(1, 2) @ b)  # (N, 3 terms, 3 channels): one solve per image
        residual = (b - a @ coef).norm(dim=-1)
        weights = (residual <= residual.median(1, keepdim=True).values).float()
    return (x - (design @ coef[:, None])).norm(dim=-1)


def background_thresholds(dist: torch.Tensor, border: int = 2, k: float = 6.0,
                          min_contrast: float = MIN_CONTRAST) -> torch.Tensor:
    """Per-image foreground threshold from distance maps (N, H, W): ``max(min_contrast, median + k * sigma)``
    of the border ring's distances, with sigma the median absolute deviation scaled to a Gaussian's std
    (robust to a shape that touches the border). A threshold from the background's own noise, not from
    the foreground, so a texture's dark parts count as foreground as much as its bright ones."""
    ring = dist[:, _border(dist.size(1), dist.size(2), border).to(dist.device)]
    median = ring.median(1).values
    sigma = 1.4826 * (ring - median[:, None]).abs().median(1).values
    return (median + k * sigma).clamp_min(min_contrast)


def otsu_thresholds(values: torch.Tensor, bins: int = 64) -> torch.Tensor:
    """Otsu's threshold of each row of ``values`` (N, P): the cut maximising the between-class variance."""
    lo, hi = values.min(1, keepdim=True).values, values.max(1, keepdim=True).values
    scaled = ((values - lo) / (hi - lo).clamp_min(1e-12) * (bins - 1)).round().long()
    hist = torch.zeros(values.size(0), bins, device=values.device).scatter_add_(1, scaled, torch.ones_like(values))
    p = hist / hist.sum(1, keepdim=True)
    w0 = p.cumsum(1)
    m0 = (p * torch.arange(bins, device=values.device, dtype=p.dtype)).cumsum(1)
    between = (m0[:, -1:] * w0 - m0).pow(2) / (w0 * (1 - w0)).clamp_min(1e-12)
    cut = between[:, :-1].argmax(1).to(values.dtype) + 0.5  # between bin k and bin k + 1
    return lo.squeeze(1) + cut / (bins - 1) * (hi - lo).squeeze(1)


def foreground_masks(images: torch.Tensor, min_contrast: float = MIN_CONTRAST) -> torch.Tensor:
    """Boolean foreground masks (N, H, W) of images (N, 3, H, W) in [-1, 1]; empty where nothing stands out.

    The threshold is the lower of two: the background's own noise level (:func:`background_thresholds`,
    which keeps a texture's dark parts on clean images, where Otsu would split the texture instead) and
    Otsu's cut of the distance map (which separates the foreground from a noisy generated background).
    """
    dist = background_distance(images)
    n, h, w = dist.shape
    flat = dist.view(n, -1)
    threshold = torch.minimum(background_thresholds(dist, min_contrast=min_contrast), otsu_thresholds(flat))
    masks = (flat > threshold[:, None]) & (flat.amax(1, keepdim=True) >= min_contrast)
    m = masks.view(n, 1, h, w).float()
    closed = -F.max_pool2d(-F.max_pool2d(m, 3, 1, 1), 3, 1, 1)  # dilate then erode
    return closed[:, 0] > 0.5


def mask_iou(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Intersection over union of boolean masks (N, H, W) -> (N,); 1 when both are empty."""
    inter = (pred & true).flatten(1).sum(1).float()
    union = (pred | true).flatten(1).sum(1).float()
    return torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union))


def center_of_mass(masks: torch.Tensor) -> torch.Tensor:
    """(x, y) centre of each boolean mask (N, H, W) in pixels (pixel centres at 0.5, 1.5, ...); the image
    centre for an empty mask."""
    n, h, w = masks.shape
    m = masks.float()
    total = m.flatten(1).sum(1)
    xs = (torch.arange(w, device=m.device) + 0.5).view(1, 1, w)
    ys = (torch.arange(h, device=m.device) + 0.5).view(1, h, 1)
    cx = (m * xs).flatten(1).sum(1) / total.clamp_min(1)
    cy = (m * ys).flatten(1).sum(1) / total.clamp_min(1)
    centre = torch.tensor([w / 2, h / 2], device=m.device)
    return torch.where(total[:, None] > 0, torch.stack([cx, cy], 1), centre)


def content_scores(pred: torch.Tensor, true: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-image ``iou`` and ``com_error`` (pixels) of predicted against true boolean masks (N, H, W)."""
    return {"iou": mask_iou(pred, true),
            "com_error": (center_of_mass(pred) - center_of_mass(true)).norm(dim=1)}


def read_manifest(root: str | Path) -> dict[str, dict] | None:
    """``file -> content parameters`` from ``ROOT/manifest.csv`` (paths relative to ROOT), or None without one."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        return None
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not set(CONTENT_KEYS) <= set(rows[0]) or "file" not in rows[0]:
        return None
    return {row["file"]: {"shape": row["shape"], **{k: float(row[k]) for k in CONTENT_KEYS[1:]}} for row in rows}


def true_masks(manifest: dict[str, dict], root: str | Path, paths: list[Path], size: int) -> torch.Tensor | None:
    """Boolean shape masks (N, size, size) of the images at ``paths``, rendered from the manifest; None if any
    image is missing from it or has a shape the renderer does not know."""
    from i2i.data.synthetic import MASK_SHAPES, shape_mask

    root = Path(root)
    masks = []
    for path in paths:
        content = manifest.get(Path(path).relative_to(root).as_posix())
        if content is None or content["shape"] not in MASK_SHAPES:
            return None
        masks.append(shape_mask(content, size) >= 0.5)
    return torch.from_numpy(np.stack(masks))


def centred_shape_masks(true: torch.Tensor) -> torch.Tensor:
    """The fixed-shape reference: a centred disc whose area is the mean true area, for every image."""
    n, h, w = true.shape
    radius = (true.flatten(1).sum(1).float().mean() / np.pi).sqrt()
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5 - h / 2, torch.arange(w) + 0.5 - w / 2, indexing="ij")
    return (xs.pow(2) + ys.pow(2) <= radius.pow(2)).expand(n, h, w)
