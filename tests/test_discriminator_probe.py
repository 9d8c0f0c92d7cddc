"""The discriminator probe: recolouring with known answers, the probe's sets under a stub discriminator, the CLI."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from evaluation.discriminator_probe import chroma_angle, probe_discriminator, probe_table, recolour_like
from i2i.cli import main
from i2i.data import DomainImages

RED, GREEN, BLUE = (torch.tensor(c, dtype=torch.float32).view(1, 3, 1, 1).expand(1, 3, 4, 4)
                    for c in ([1, -1, -1], [-1, 1, -1], [-1, -1, 1]))


def test_chroma_angle_and_recolour_known_answers():
    angles = chroma_angle(torch.cat([RED, GREEN, BLUE]))
    assert torch.allclose(angles, torch.tensor([0.0, 2 * math.pi / 3, -2 * math.pi / 3]), atol=1e-6)
    assert torch.allclose(recolour_like(torch.cat([RED, GREEN]), torch.cat([GREEN, BLUE])), torch.cat([GREEN, BLUE]),
                          atol=1e-5)
    dark_red = RED * 0.5 - 0.25  # a darker, less saturated red keeps its brightness and saturation
    out = recolour_like(dark_red, GREEN)
    assert torch.allclose(out.mean(1), dark_red.mean(1), atol=1e-6)
    assert torch.allclose(chroma_angle(out), torch.tensor([2 * math.pi / 3]), atol=1e-5)


class RednessD(nn.Module):
    """A stub discriminator whose logit is 10 x the mean red channel, whatever the domain head."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(10.0))

    def forward(self, x, y):
        return self.scale * x[:, 0].mean((1, 2))


@pytest.fixture
def red_green_root(tmp_path):
    for split in ("train", "val"):
        for name, rgb in (("green", (0, 255, 0)), ("red", (255, 0, 0))):
            folder = tmp_path / split / name
            folder.mkdir(parents=True)
            for i in range(3):
                Image.fromarray(np.full((8, 8, 3), rgb, np.uint8)).save(folder / f"{i}.png")
    return tmp_path


def test_probe_sets_under_a_stub_discriminator(red_green_root):
    images = DomainImages(red_green_root, "val", 8, progress=False)
    assert images.domains == ["green", "red"]
    result = probe_discriminator(RednessD(), images, translate=lambda x, label: x)  # identity "translation"
    hi, lo = torch.sigmoid(torch.tensor(10.0)).item(), torch.sigmoid(torch.tensor(-10.0)).item()
    # green head: real and re-hued greens are not red; red images recoloured to green are not red either;
    # their identity translations stay red
    assert result["green"] == pytest.approx({"real": lo, "real_rehued": lo, "other_recoloured": lo, "translations": hi},
                                            abs=1e-4)
    assert result["red"] == pytest.approx({"real": hi, "real_rehued": hi, "other_recoloured": hi, "translations": lo},
                                          abs=1e-4)
    table = probe_table(result)
    assert "| **mean** | 0.500 | 0.500 | 0.500 | 0.500 |" in table


@pytest.mark.slow
def test_probe_cli(tiny_run, synthetic_root, tmp_path, capsys):
    out = tmp_path / "probe.json"
    assert main(["probe-d", "--checkpoint", str(tiny_run), "--data", str(synthetic_root), "--out", str(out)]) == 0
    p_real = json.loads(out.read_text())["p_real"]
    assert set(p_real) == {"checks", "dots", "stripes"}
    assert all(0.0 <= v <= 1.0 for row in p_real.values() for v in row.values())
    assert "their translations" in capsys.readouterr().out
