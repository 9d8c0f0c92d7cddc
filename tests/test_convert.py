"""StarGAN v2 checkpoints: converter, FAN masks and exact output parity with the official code's fixtures."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from i2i.cli import main
from i2i.convert import convert_stargan_v2, infer_model_config, load_stargan_v2
from i2i.inference import Translator
from i2i.kinds import build_networks
from i2i.models.fan import FAN, heatmaps_to_masks, shift_rows
from i2i.training.checkpoint import CheckpointMismatchError, latest_checkpoint, load_checkpoint

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "stargan_v2"
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"StarGAN v2 fixtures not found at {FIXTURES} "
                                    "(they live in ../shared/fixtures beside the clone)")
TOL = 1e-4


class Payload:
    """Stands for any non-tensor object a pickle could smuggle in."""


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """Both fixtures converted with the CLI; returns {tag: run_dir}."""
    out = tmp_path_factory.mktemp("converted")
    runs = {}
    for tag, extra in (("hpf0", ["--domains", "cat,dog,wild"]), ("hpf1", ["--wing", str(FIXTURES / "hpf1_wing.ckpt")])):
        runs[tag] = out / tag
        assert main(["convert", "--from", "stargan-v2", str(FIXTURES / f"{tag}_000001_nets_ema.ckpt"),
                     "--out", str(runs[tag]), *extra]) == 0
    return runs


@needs_fixtures
@pytest.mark.parametrize("tag", ["hpf0", "hpf1"])
def test_converted_config_and_layout(converted, tag):
    run = converted[tag]
    configs = json.loads((FIXTURES / "configs.json").read_text())[tag]
    model = Translator.load(run, "cpu").cfg.model
    for key in ("img_size", "style_dim", "latent_dim", "max_conv_dim", "w_hpf"):
        assert getattr(model, key) == configs[key], key
    assert model.base_dim is None and model.hidden_dim == 512
    domains = json.loads((run / "domains.json").read_text())["domains"]
    assert domains == (["cat", "dog", "wild"] if tag == "hpf0" else ["domain0", "domain1", "domain2"])
    assert latest_checkpoint(run).name == "step_0000001"
    assert (run / "fan.safetensors").is_file() == (tag == "hpf1")


@pytest.mark.slow
@needs_fixtures
@pytest.mark.parametrize("tag", ["hpf0", "hpf1"])
def test_outputs_match_the_official_code(converted, tag):
    io = torch.load(FIXTURES / f"{tag}_io.pt", map_location="cpu", weights_only=True)
    t = Translator.load(converted[tag], "cpu")
    g, m, e = t.nets.generator, t.nets.mapping_network, t.nets.style_encoder
    diffs = {}
    with torch.no_grad():
        diffs["s_latent"] = max_diff(m(io["z"], io["y"]), io["s_latent"])
        diffs["s_reference"] = max_diff(e(io["x_ref"], io["y"]), io["s_reference"])
        official_masks = (io["mask0"], io["mask1"]) if tag == "hpf1" else None
        if official_masks:
            ours = t.fan.face_masks(io["x"])
            diffs["mask0"], diffs["mask1"] = (max_diff(a, b) for a, b in zip(ours, official_masks))
        for mode in ("latent", "reference"):
            diffs[f"out_{mode}"] = max_diff(g(io["x"], io[f"s_{mode}"], official_masks), io[f"out_{mode}"])
            # the whole inference path: FAN masks computed here, encoder once, decode per style
            styles = io[f"s_{mode}"][:, None]
            diffs[f"translator_{mode}"] = max_diff(t.decode_many(io["x"], styles)[:, 0], io[f"out_{mode}"])
    print(tag, {k: f"{v:.2e}" for k, v in diffs.items()})
    assert max(diffs.values()) < TOL, diffs


@needs_fixtures
def test_discriminator_matches_and_loads_for_fine_tuning(converted, tmp_path):
    io = torch.load(FIXTURES / "hpf0_io.pt", map_location="cpu", weights_only=True)
    # the EMA file's sibling hpf0_000001_nets.ckpt brought the training networks and D
    cfg, n = infer_model_config(load_stargan_v2(FIXTURES / "hpf0_000001_nets.ckpt"))
    nets = build_networks(cfg.model, n)
    state = load_checkpoint(latest_checkpoint(converted["hpf0"]), nets)
    assert "optimizers" not in state
    with torch.no_grad():
        assert max_diff(nets.discriminator.eval()(io["x"], io["y"]), io["d_logits"]) < TOL


@needs_fixtures
def test_face_model_requires_wing(tmp_path):
    with pytest.raises(ValueError, match="face model .* pass --wing wing.ckpt"):
        convert_stargan_v2(FIXTURES / "hpf1_000001_nets_ema.ckpt", tmp_path / "run")


@needs_fixtures
def test_rejects_unsafe_or_malformed_checkpoints(tmp_path):
    pickled = tmp_path / "evil_nets_ema.ckpt"
    torch.save({"generator": Payload()}, pickled)  # an arbitrary object: weights_only refuses to build it
    with pytest.raises(ValueError, match=r"weights_only=True"):
        load_stargan_v2(pickled)
    torch.save({"generator": {}}, tmp_path / "partial.ckpt")
    with pytest.raises(ValueError, match="lacks mapping_network, style_encoder"):
        load_stargan_v2(tmp_path / "partial.ckpt")
    torch.save({"generator": {"w": 1}, "mapping_network": {}, "style_encoder": {}}, tmp_path / "nontensor.ckpt")
    with pytest.raises(ValueError, match="'generator' is not a state dict of tensors"):
        load_stargan_v2(tmp_path / "nontensor.ckpt")

    ckpt = torch.load(FIXTURES / "hpf0_000001_nets_ema.ckpt", map_location="cpu", weights_only=True)
    ckpt["generator"]["decode.1.conv1.weight"] = torch.zeros(32, 16, 3, 3)
    bad = tmp_path / "bad_nets_ema.ckpt"
    torch.save(ckpt, bad)
    with pytest.raises(CheckpointMismatchError,
                       match=r"generator\.decode\.1\.conv1\.weight: shape \(32, 16, 3, 3\) in the checkpoint, "
                             r"\(32, 32, 3, 3\) in the model"):
        convert_stargan_v2(bad, tmp_path / "bad_run")
    assert main(["convert", "--from", "stargan-v2", str(bad), "--out", str(tmp_path / "bad_run2")]) == 1


def test_masks_recipe_on_hand_made_heatmaps():
    """One peak per landmark: the chin line (8..24) survives in mask0 only, eyes are sharpened and extended."""
    x = torch.zeros(1, 98, 256, 256)
    x[0, 10, 100, 50] = 1.0  # chin line, shift 0, power 3
    x[0, 65, 120, 80] = 0.5  # an eye, normalised to ~1, then rows -8 (cubed) and -24 (linear) below
    x[0, 0, 5, 5] = 1.0      # a zeroed landmark
    mask0, mask1 = heatmaps_to_masks(x)
    assert mask0[0, 0, 100, 50] == pytest.approx(1.0, abs=1e-5) and mask1[0, 0, 100, 50] == 0
    for row in (128, 144):
        assert mask0[0, 0, row, 80] == pytest.approx(1.0, abs=1e-5) == mask1[0, 0, row, 80]
    assert mask0[0, 0, 5, 5] == 0 and mask0.sum() == pytest.approx(3.0, abs=1e-4)
    assert torch.equal(shift_rows(torch.arange(5.0).view(1, 1, 5, 1), 2).flatten(), torch.tensor([2., 3, 4, 0, 1]))


def test_fan_shapes():
    fan = FAN().eval()
    with torch.no_grad():
        assert fan(torch.rand(1, 3, 256, 256)).shape == (1, 99, 64, 64)
        assert [m.shape for m in fan.face_masks(torch.rand(1, 3, 128, 128) * 2 - 1)] == [(1, 1, 256, 256)] * 2


@pytest.mark.slow
def test_face_model_trains_with_fan_masks_and_translates(tiny_config, synthetic_root, tmp_path):
    from safetensors.torch import save_file

    from i2i.inference import StyleSpec
    from i2i.training import train

    torch.manual_seed(0)
    fan_file = tmp_path / "fan.safetensors"
    save_file({k: v.contiguous() for k, v in FAN().state_dict().items()}, str(fan_file))
    overrides = ["model.w_hpf=1", "train.total_iters=2", "train.save_every=2", "train.sample_every=2"]
    with pytest.raises(ValueError, match="set train.fan_weights"):
        train(tiny_config(*overrides), tmp_path / "no_fan", progress=False)
    train(tiny_config(*overrides, f"train.fan_weights={fan_file}"), tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "fan.safetensors").is_file() and (tmp_path / "run" / "samples").is_dir()
    t = Translator.load(tmp_path / "run", "cpu")
    assert t.fan is not None
    source = sorted((synthetic_root / "val" / "dots").iterdir())[0]
    assert t.translate([source], StyleSpec("checks", seed=1)).shape == (1, 3, 32, 32)
