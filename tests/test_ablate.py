"""``i2i ablate`` on a tiny config: table rows, mean ± std over seeds, the comparison strip, resumability."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from i2i.experiments import ablate as ablate_module
from i2i.cli import main

from conftest import TINY



def test_mean_std_by_hand():
    assert ablate_module.mean_std([1.0, 3.0]) == (2.0, pytest.approx(2**0.5))
    assert ablate_module.mean_std([0.5]) == (0.5, 0.0)


def test_glyph_data_gets_the_glyph_metrics_and_both_interpolation_paths(tmp_path):
    assert ablate_module.strip_paths(["bold", "italic", "regular"]) == [(2, 0), (2, 1)]  # regular -> bold, italic
    assert ablate_module.strip_paths(["checks", "dots", "stripes"]) == [(0, 1)]
    assert ablate_module.default_metrics(str(tmp_path)) == ("fid", "lpips", "ps", "ps_pixel", "domain_acc")
    for name in ("glyphs.json", "truth.npz", "manifest.csv"):
        (tmp_path / name).write_text("")
    assert "glyph_reference" in ablate_module.default_metrics(str(tmp_path))
    paired = tmp_path / "paired"  # val/<domain>/<name>.png sharing names: the paired ground-truth metrics join
    for domain in ("a", "b"):
        (paired / "val" / domain).mkdir(parents=True)
        (paired / "val" / domain / "1f600.png").write_bytes(b"")
    assert ablate_module.default_metrics(str(paired))[-2:] == ("paired_reference", "paired_latent")


def test_variants_switch_exactly_the_smoothing_terms():
    from i2i.config import load_config

    weights = {}
    for name, (_, overrides) in ablate_module.VARIANTS.items():
        loss = load_config("configs/synthetic.yaml", overrides).loss
        weights[name] = (loss.lambda_tri > 0, loss.lambda_sr > 0, loss.lambda_cont > 0)
    assert weights == {"baseline": (False, False, False), "tri": (True, False, False), "sr": (False, True, False),
                       "tri_sr": (True, True, False), "full": (True, True, True)}


@pytest.mark.slow  # trains and evaluates every variant
def test_ablate_end_to_end_and_resume(synthetic_root, tmp_path, monkeypatch):
    out = tmp_path / "ablate"
    argv = ["ablate", "--config", "configs/synthetic.yaml", "--out", str(out), "--variants", "baseline,full",
            "--seeds", "2", "--metrics", "lpips,ps,content,domain_acc", "--num-sources", "2", "--steps", "3", "--num-outs", "2", "--random-weights",
            "--no-progress", *[a for o in TINY + [f"data.root={synthetic_root}", "train.total_iters=2"]
                               for a in ("--set", o)]]
    monkeypatch.setenv("I2I_CACHE", str(tmp_path / "cache"))
    assert main(argv) == 0
    result = json.loads((out / "ablation.json").read_text())
    assert list(result["summary"]) == ["baseline", "full"] and result["seeds"] == 2
    for row in result["summary"].values():
        # every column of the metrics asked for (FID was not)
        assert set(row) == {"ps_inter", "ps_intra", "lpips", "content_iou", "com_error", "path_iou", "domain_acc"}
        for cell in row.values():
            assert len(cell["values"]) == 2
            assert cell["mean"] == pytest.approx(sum(cell["values"]) / 2)
    table = (out / "ablation.md").read_text()
    assert "| A: StarGAN v2 |" in table and "| A + L_SR, L_tri, L_cont (ours) |" in table
    assert "±" in table and "[random-weights]" in table
    strip = Image.open(out / "ablation.png")
    assert strip.height >= 2 * 64  # one row per variant, upscaled from 32 px
    assert [Path(p).name for p in result["step_profiles"]] == ["ablation_steps_checks2dots.png"]
    assert Image.open(out / "ablation_steps_checks2dots.png").size == (640, 360 + 2 * 14)  # a legend line per variant
    # both seeds of a variant share data and init seeds with the other variant: same train.seed per seed index
    seeds = {json.loads((out / v / f"seed{k}" / "eval.json").read_text())["model"] for v in ("baseline", "full")
             for k in (0, 1)}
    assert seeds == {"seed0", "seed1"}

    def no_training(*args, **kwargs):
        raise AssertionError("a finished variant was trained again")

    monkeypatch.setattr("i2i.training.train", no_training)
    assert main(argv) == 0  # everything finished: read back, nothing retrained
