"""Domain accuracy: the share of translations that a small CNN, trained on the real images, puts in the target domain.

The classifier is trained once per data set (its file list, sizes and mtimes, the image size) and cached
as safetensors beside the FID statistics; its accuracy on the real validation images is reported next to
the translations' accuracy so that a low figure can be told apart from a weak classifier.

A second, *hue-blind* classifier is trained on images whose colours are rotated about the grey axis by a random
angle and whose contrast and brightness are jittered: it cannot use hue or overall brightness, so it has to
tell the domains apart by pattern and shape (on the synthetic data: the texture family). Where a model only
recolours its sources, the plain accuracy is high and the hue-blind one is not.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn
from tqdm import tqdm

from i2i.colour import rotate_hue
from i2i.data.dataset import DomainImages, scan_split
from i2i.data.images import to_float
from i2i.rundir import write_weights

from i2i.evaluation.real_stats import files_key

log = logging.getLogger(__name__)

CLASSIFIER_SIZE = 32  # images are resized to this before classification: style (colour, texture) survives it
CLASSIFIER_VERSION = 3  # bump when the architecture or the training recipe changes (invalidates caches)


@dataclass(frozen=True)
class Recipe:
    """How one kind of classifier is trained: width, Adam steps, horizontal flips, hue-blind jitter, and whether the
    learning rate decays to 0 along a cosine."""

    width: int
    steps: int
    flips: bool = True
    hue_blind: bool = False
    decay: bool = False


# A pattern takes longer to learn than a colour (the hue-blind classifier reaches 1.0 on the synthetic validation
# images with these, 0.66 with the plain recipe). Designs that differ in outline and shading need the longer, decayed
# domain recipe: on the three emoji vendors its real validation accuracy is 0.926 (0.711 with 16 wide, 300 steps).
# Glyph classifiers never flip: a mirrored italic leans the other way and a mirrored character is another shape.
RECIPES = {"domain": Recipe(32, 3000, decay=True), "hueblind": Recipe(32, 2000, hue_blind=True),
           "glyph_style": Recipe(32, 1500, flips=False), "glyph_char": Recipe(32, 1500, flips=False)}


class DomainClassifier(nn.Module):
    """Four 3x3 conv layers (stride 2 from the second), global average pooling, one linear layer."""

    def __init__(self, num_domains: int, width: int = 16):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(3, w, 3, 1, 1), nn.LeakyReLU(0.2), nn.Conv2d(w, 2 * w, 3, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 4 * w, 3, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(4 * w, 4 * w, 3, 2, 1), nn.LeakyReLU(0.2))
        self.head = nn.Linear(4 * w, num_domains)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, num_domains) of images (N, 3, H, W) in [-1, 1] (any square size)."""
        if x.size(-1) != CLASSIFIER_SIZE:
            x = F.interpolate(x, size=CLASSIFIER_SIZE, mode="bilinear", align_corners=False, antialias=True)
        return self.head(self.features(x).mean((2, 3)))


def augment_batch(x: torch.Tensor, g: torch.Generator, max_shift: int = 2, flips: bool = True) -> torch.Tensor:
    """Random horizontal flips (with ``flips``; one draw per image) and a circular shift of up to ``max_shift``
    pixels (one per batch)."""
    if flips:
        flip = torch.rand(x.size(0), generator=g) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    dy, dx = (torch.randint(-max_shift, max_shift + 1, (2,), generator=g)).tolist()  # one shift per batch
    return x.roll((dy, dx), dims=(-2, -1))


def hue_blind_jitter(x: torch.Tensor, g: torch.Generator, contrast: float = 0.4,
                     brightness: float = 0.2) -> torch.Tensor:
    """:func:`rotate_hue` each image (N, 3, H, W in [-1, 1]) by a random angle, scale its contrast about its mean
    by U(1 - contrast, 1 + contrast), shift it by U(-brightness, brightness), clamp."""
    n = x.size(0)
    y = rotate_hue(x, torch.rand(n, generator=g) * 2 * math.pi)
    mean = y.mean((1, 2, 3), keepdim=True)
    scale = 1 + contrast * (2 * torch.rand(n, 1, 1, 1, generator=g) - 1)
    shift = brightness * (2 * torch.rand(n, 1, 1, 1, generator=g) - 1)
    return ((y - mean) * scale.to(x) + mean + shift.to(x)).clamp(-1, 1)


def train_classifier(images: DomainImages, kind: str = "domain", labels: torch.Tensor | None = None,
                     num_classes: int | None = None, steps: int | None = None, batch_size: int = 32,
                     lr: float = 2e-3, seed: int = 0, progress: bool = True) -> DomainClassifier:
    """Train a classifier of ``kind`` (see ``RECIPES``) on ``images`` (resized to 32 px once): classes drawn
    uniformly, then an image of the class, with small shifts (flips and :func:`hue_blind_jitter` where the recipe
    says). ``labels`` (one per image, ``num_classes`` classes) default to the images' domains."""
    recipe = RECIPES[kind]
    steps = recipe.steps if steps is None else steps
    labels = images.labels if labels is None else labels
    num_classes = images.num_domains if num_classes is None else num_classes
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = DomainClassifier(num_classes, recipe.width)
    data = _classifier_inputs(images)
    order = labels.argsort(stable=True)
    counts = torch.bincount(labels, minlength=num_classes)
    starts, present = counts.cumsum(0) - counts, counts.nonzero().flatten()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    decay = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if recipe.decay else None
    with torch.enable_grad():  # callers may run under no_grad / inference_mode
        for _ in tqdm(range(steps), desc=f"{kind} classifier", unit="it", disable=not progress, leave=False):
            classes = present[torch.randint(present.numel(), (batch_size,), generator=g)]
            u = torch.rand(batch_size, generator=g, dtype=torch.float64)
            picks = order[starts[classes] + (u * counts[classes]).long()]
            x = augment_batch(data[picks], g, flips=recipe.flips)
            loss = F.cross_entropy(net(hue_blind_jitter(x, g) if recipe.hue_blind else x), classes)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if decay is not None:
                decay.step()
    return net.eval().requires_grad_(False)


def _classifier_inputs(images: DomainImages) -> torch.Tensor:
    """Every image of ``images`` as float [-1, 1] at the classifier's size (decoded and resized once)."""
    chunks = []
    for start in range(0, len(images), 256):
        x = to_float(torch.stack([images.image(i) for i in range(start, min(start + 256, len(images)))]))
        chunks.append(F.interpolate(x, size=CLASSIFIER_SIZE, mode="bilinear", align_corners=False, antialias=True)
                      if x.size(-1) != CLASSIFIER_SIZE else x)
    return torch.cat(chunks)


@torch.no_grad()
def probabilities(net: DomainClassifier, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Class probabilities (N, C) of images (N, 3, H, W) in [-1, 1]."""
    device = next(net.parameters()).device
    return torch.cat([net(chunk.to(device)).softmax(1).cpu() for chunk in images.split(batch_size)])


def predict(net: DomainClassifier, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Predicted labels of images (N, 3, H, W) in [-1, 1]."""
    return probabilities(net, images, batch_size).argmax(1)


def domain_accuracy(net: DomainClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of ``images`` classified as ``labels``."""
    return (predict(net, images) == labels.cpu()).float().mean().item()


def load_or_train_classifier(root: str | Path, img_size: int, cache_dir: Path | None, progress: bool = True,
                             kind: str = "domain", targets: Callable | None = None) -> tuple[DomainClassifier, bool]:
    """``(classifier, from_cache)`` of ``kind`` for the ``train/`` split of ``root``: read
    ``<cache_dir>/classifier_<kind>_<key>.safetensors`` (the key hashes the file list, sizes and mtimes, the image
    size, the kind and the classifier version, without decoding anything) or train on the decoded images and write
    it. ``targets(images) -> (labels, num_classes)`` gives other labels than the domains (e.g. the characters)."""
    domains, files = scan_split(root, "train")
    key = files_key(Path(root) / "train", [f for group in files for f in group], domains=domains,
                    img_size=img_size, kind=kind, version=CLASSIFIER_VERSION)
    path = Path(cache_dir) / f"classifier_{kind}_{key}.safetensors" if cache_dir else None
    if path is not None and path.is_file():
        state = load_file(str(path))
        net = DomainClassifier(state["head.weight"].size(0), RECIPES[kind].width)
        net.load_state_dict(state)
        return net.eval().requires_grad_(False), True
    images = DomainImages(root, "train", img_size, progress=progress)
    labels, num_classes = targets(images) if targets is not None else (None, None)
    net = train_classifier(images, kind, labels, num_classes, progress=progress)
    if path is not None:
        write_weights(path, net)  # a unique temporary name: concurrent evaluations may race
    return net, False


def real_accuracy(net: DomainClassifier, images: DomainImages, labels: torch.Tensor | None = None) -> float:
    """The classifier's accuracy on real images (e.g. the validation split; ``labels`` default to their domains):
    its own reliability."""
    return domain_accuracy(net, _classifier_inputs(images), images.labels if labels is None else labels)
