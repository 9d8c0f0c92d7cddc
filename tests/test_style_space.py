"""The style-space map: PCA with known axes, and the CLI on the tiny model."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from i2i.cli import main
from i2i.plots import PALETTE
from i2i.style_space import fit_pca


def test_pca_finds_the_axes_of_largest_variance():
    g = torch.Generator().manual_seed(0)
    t, u = torch.randn(500, generator=g), torch.randn(500, generator=g)
    t, u = t - t.mean(), u - u.mean()
    u = u - (u @ t) / (t @ t) * t  # uncorrelated samples: the principal axes are exactly the two directions
    directions = torch.tensor([[0.6, 0.8, 0.0], [0.0, 0.0, 1.0]])  # orthonormal: variance 9 then 1
    codes = 3 * t[:, None] * directions[0] + u[:, None] * directions[1] + torch.tensor([5.0, -2.0, 1.0])
    project = fit_pca(codes)
    assert torch.allclose(project.components.abs().T, directions, atol=1e-4)
    points = project(codes)
    assert torch.allclose(points.mean(0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(points.var(0), torch.stack([(3 * t).var(), u.var()]), rtol=1e-4)


def test_style_map_cli_draws_every_domain_and_the_path(tiny_run, synthetic_root, tmp_path, capsys):
    out = tmp_path / "map.png"
    assert main(["style-map", "--checkpoint", str(tiny_run), "--data", str(synthetic_root), "--per-domain", "50",
                 "--from", "checks:1", "--to", "dots:2", "--out", str(out)]) == 0
    assert "style map of 159 codes" in capsys.readouterr().out  # 3 x 50 mapped + 9 encoded val images
    img = Image.open(out).convert("RGB")
    colours = set(map(tuple, np.asarray(img).reshape(-1, 3).tolist()))
    assert all(c in colours for c in PALETTE[:3]) and (0, 0, 0) in colours
    assert main(["style-map", "--checkpoint", str(tiny_run), "--from", "checks:1", "--out", str(out)]) == 1
