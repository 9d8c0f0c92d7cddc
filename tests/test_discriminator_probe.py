"""The discriminator probe: recolouring with known answers, the probe's sets under a stub discriminator, the CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from i2i.experiments.discriminator_probe import probe_discriminator, probe_table
from i2i.cli import main
from i2i.data import DomainImages

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
    # the real set, by hand: the run's training D on the domain's validation images under its own head
    from i2i.data.images import to_float
    from i2i.models import build_networks
    from i2i.rundir import load_flat_state, read_weights, resolve_checkpoint
    from i2i.config import load_config

    run, ema = resolve_checkpoint(tiny_run)
    nets = build_networks(load_config(run / "config.yaml").model, 3)
    load_flat_state(nets, read_weights(ema.parent / "nets.safetensors"), "nets")
    val = DomainImages(synthetic_root, "val", 32, progress=False)
    for label, name in enumerate(val.domains):
        x = to_float(val.images[val.labels == label])
        with torch.no_grad():
            expected = torch.sigmoid(nets.discriminator.eval()(x, torch.full((len(x),), label))).mean().item()
        assert p_real[name]["real"] == pytest.approx(expected, abs=1e-5)
    assert "their translations" in capsys.readouterr().out
