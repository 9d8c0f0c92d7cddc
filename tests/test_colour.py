"""Hue rotation and recolouring with known answers, and the D loss's recoloured-negative term under a stub D."""
import contextlib
import math
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from i2i.colour import chroma_angle, recolour_like, rotate_hue
from i2i.training.stargan_v2_losses import LossWeights, discriminator_loss

RED, GREEN, BLUE = (torch.tensor(c, dtype=torch.float32).view(1, 3, 1, 1).expand(1, 3, 4, 4)
                    for c in ([1, -1, -1], [-1, 1, -1], [-1, -1, 1]))


def test_rotate_hue_known_answers():
    red = torch.tensor([1.0, -1.0, -1.0]).view(1, 3, 1, 1).expand(3, 3, 1, 1)
    out = rotate_hue(red, torch.tensor([0.0, 2 * math.pi / 3, 4 * math.pi / 3])).flatten(1)
    assert torch.allclose(out, torch.tensor([[1.0, -1, -1], [-1, 1, -1], [-1, -1, 1]]), atol=1e-6)  # red, green, blue
    x = torch.rand(4, 3, 5, 5, generator=torch.Generator().manual_seed(0)) * 2 - 1
    y = rotate_hue(x, torch.tensor([0.3, 1.0, 2.5, 5.0]))
    assert torch.allclose(y.mean(1), x.mean(1), atol=1e-6)  # the grey component (channel mean) stays
    assert torch.allclose((y - y.mean(1, keepdim=True)).norm(dim=1), (x - x.mean(1, keepdim=True)).norm(dim=1),
                          atol=1e-5)  # the saturation (distance from grey) stays
    grey = torch.full((1, 3, 2, 2), 0.25)
    assert torch.allclose(rotate_hue(grey, torch.tensor([1.234])), grey, atol=1e-6)


def test_chroma_angle_and_recolour_known_answers():
    angles = chroma_angle(torch.cat([RED, GREEN, BLUE]))
    assert torch.allclose(angles, torch.tensor([0.0, 2 * math.pi / 3, -2 * math.pi / 3]), atol=1e-6)
    assert torch.allclose(recolour_like(torch.cat([RED, GREEN]), torch.cat([GREEN, BLUE])), torch.cat([GREEN, BLUE]),
                          atol=1e-5)
    dark_red = RED * 0.5 - 0.25  # a darker, less saturated red keeps its brightness and saturation
    out = recolour_like(dark_red, GREEN)
    assert torch.allclose(out.mean(1), dark_red.mean(1), atol=1e-6)
    assert torch.allclose(chroma_angle(out), torch.tensor([2 * math.pi / 3]), atol=1e-5)


class _MeanD(torch.nn.Module):
    """Stub D: logit = 10 * mean(image) + label; records its inputs."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, x, y):
        self.calls.append((x.detach().clone(), y.clone()))
        return 10 * x.mean((1, 2, 3)) + y.float()


def test_recoloured_negatives_are_fakes_of_the_target_head():
    g = torch.Generator().manual_seed(1)
    batch = {"x_src": torch.rand(4, 3, 8, 8, generator=g) - 0.5, "x_ref": torch.rand(4, 3, 8, 8, generator=g) - 0.5,
             "y_src": torch.tensor([0, 1, 2, 0]), "y_trg": torch.tensor([1, 1, 0, 2])}
    x_fake = torch.zeros(4, 3, 8, 8)
    nets = SimpleNamespace(discriminator=_MeanD())
    autocast = lambda enabled=True: contextlib.nullcontext()  # noqa: E731
    off, terms_off = discriminator_loss(nets, batch, x_fake, LossWeights(0, 1, 1, 1, 1, 1, 1), autocast)
    assert len(nets.discriminator.calls) == 2 and "recoloured" not in terms_off  # StarGAN v2: reals and fakes only
    loss, terms = discriminator_loss(nets, batch, x_fake, LossWeights(0, 1, 1, 1, 1, 1, 1, recoloured=0.5), autocast)
    x_neg, y_neg = nets.discriminator.calls[-1]
    assert torch.allclose(x_neg, recolour_like(batch["x_src"], batch["x_ref"])) and torch.equal(y_neg, batch["y_trg"])
    assert torch.allclose(chroma_angle(x_neg), chroma_angle(batch["x_ref"]), atol=1e-4)  # the reference's hue
    logits = 10 * x_neg.mean((1, 2, 3)) + batch["y_trg"].float()
    want = F.softplus(logits[[0, 2, 3]]).mean()  # row 1 already is of its target domain: not a negative
    assert torch.allclose(terms["recoloured"], want)
    assert torch.allclose(loss, off + 0.5 * want)


def test_plain_negatives_are_the_unchanged_reals_of_other_domains():
    """``recolour_negatives=False``: the other domains' reals go to the target head as they are."""
    g = torch.Generator().manual_seed(2)
    batch = {"x_src": torch.rand(3, 3, 8, 8, generator=g) - 0.5, "x_ref": torch.rand(3, 3, 8, 8, generator=g) - 0.5,
             "y_src": torch.tensor([0, 1, 2]), "y_trg": torch.tensor([2, 1, 0])}
    nets = SimpleNamespace(discriminator=_MeanD())
    autocast = lambda enabled=True: contextlib.nullcontext()  # noqa: E731
    weights = LossWeights(0, 1, 1, 1, 1, 1, 1, recoloured=1.0, recolour_negatives=False)
    _, terms = discriminator_loss(nets, batch, torch.zeros(3, 3, 8, 8), weights, autocast)
    x_neg, y_neg = nets.discriminator.calls[-1]
    assert torch.equal(x_neg, batch["x_src"]) and torch.equal(y_neg, batch["y_trg"])
    logits = 10 * batch["x_src"].mean((1, 2, 3)) + batch["y_trg"].float()
    assert torch.allclose(terms["recoloured"], F.softplus(logits[[0, 2]]).mean())  # row 1 is no negative
