"""Golden outputs of the four networks at a tiny size, seeded: StarGAN v2 parity without ``../shared``.

``tests/test_convert.py`` checks, against the official code's outputs (``../shared/fixtures``), that these modules
compute exactly what StarGAN v2's compute. The numbers below were computed by the same modules once that held; they
pin the computation (initialisation, layer order, padding, normalisation, the style heads) where the fixtures are not.
"""
from __future__ import annotations

import pytest
import torch

from i2i.config import load_config
from i2i.kinds import build_networks


def tiny_networks():
    """G, M, E, D at 32 px (style 8, latent 4, widths 8-16, 3 domains), He-initialised from seed 0, with every
    bias and norm parameter set to a distinct non-zero value so that each of them changes the outputs."""
    cfg = load_config(None, ["model.img_size=32", "model.style_dim=8", "model.latent_dim=4", "model.hidden_dim=16",
                             "model.max_conv_dim=16", "model.base_dim=8"])
    torch.manual_seed(0)
    nets = build_networks(cfg.model, 3)
    with torch.no_grad():
        for _, net in nets.items():
            for name, p in net.named_parameters():
                if name.endswith("bias") or ".norm" in name:
                    p.copy_(0.1 * torch.sin(torch.arange(p.numel(), dtype=torch.float32) + len(name)).view_as(p))
    return nets


def inputs():
    grid = torch.linspace(-1, 1, 2 * 3 * 32 * 32).view(2, 3, 32, 32)
    z = torch.linspace(-1.5, 1.5, 8).view(2, 4)
    return torch.sin(7 * grid) * 0.9, torch.cos(5 * grid) * 0.8, torch.tensor([0, 2]), z


def test_seeded_tiny_networks_reproduce_their_golden_outputs():
    nets, (x, x_ref, y, z) = tiny_networks(), inputs()
    with torch.no_grad():
        s, e = nets.mapping_network(z, y), nets.style_encoder(x_ref, y)
        g, d = nets.generator(x, s), nets.discriminator(x, y)
    assert s.flatten().tolist() == pytest.approx(
        [-0.300846, 1.601219, 1.905672, 0.545339, -2.271074, 0.917618, -0.39641, 0.238206,
         -0.840129, -0.841198, -0.414883, -0.781661, -0.424895, -0.398816, -0.674076, -0.13498], abs=1e-4)
    assert e.flatten().tolist() == pytest.approx(
        [-1.981881, -0.837731, -1.446598, 1.704368, -1.281358, 1.160393, 1.024904, -0.499802,
         1.268449, -0.119717, -0.043503, 1.189384, 0.339975, -0.099678, 0.276823, 0.501637], abs=1e-4)
    assert g.flatten(1).sum(1).tolist() == pytest.approx([2316.66211, 2362.20679], rel=1e-5)
    assert g.abs().flatten(1).sum(1).tolist() == pytest.approx([3062.50366, 3170.68555], rel=1e-5)
    assert g[0, :, 5, 7].tolist() == pytest.approx([3.267764, 4.319974, -2.629653], abs=1e-4)
    assert g[1, :, 20, 11].tolist() == pytest.approx([1.012358, 0.432374, -0.203028], abs=1e-4)
    assert d.tolist() == pytest.approx([0.559409, -1.299787], abs=1e-4)
