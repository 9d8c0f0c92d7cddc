"""Evaluation during training and the best checkpoint: metric records, checkpoints/best, RUN:best everywhere."""
from __future__ import annotations

import json

import pytest

from i2i.cli import main
from i2i.inference import Translator
from i2i.rundir import resolve_checkpoint
from i2i.training import train

from conftest import TINY


@pytest.mark.slow  # trains a tiny model with evaluations
def test_eval_every_writes_metric_records_and_keeps_the_best_checkpoint(tiny_config, synthetic_root, tmp_path,
                                                                        monkeypatch):
    monkeypatch.setenv("I2I_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    cfg = tiny_config("train.total_iters=6", "train.save_every=6", "train.eval_every=2", "train.eval_sources=2",
                      "train.best_metric=content_iou:max", "train.keep_checkpoints=1")
    train(cfg, run, progress=False)
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    evals = {r["step"]: r for r in records if "eval/content_iou" in r}
    assert sorted(evals) == [2, 4, 6] and all("eval/ps_pixel_inter" in r for r in evals.values())
    best = json.loads((run / "checkpoints" / "best.json").read_text())
    values = {step: r["eval/content_iou"] for step, r in evals.items()}
    assert best["value"] == max(values.values()) and best["step"] == max(values, key=values.get)
    folder = run / "checkpoints" / f"step_{best['step']:07d}"
    assert resolve_checkpoint(f"{run}:best")[1] == folder / "nets_ema.safetensors"
    kept = sorted(p.name for p in (run / "checkpoints").glob("step_*"))
    assert kept == sorted({folder.name, "step_0000006"})  # keep_checkpoints 1, and the best whatever its age
    assert Translator.from_pretrained(f"{run}:best", "cpu").source.endswith(f"{folder.name}/nets_ema.safetensors")
    out = tmp_path / "r.json"
    assert main(["eval", "--checkpoint", f"{run}:best", "--data", str(synthetic_root), "--metrics", "content",
                 "--tasks", "checks2dots", "--num-sources", "2", "--out", str(out), "--no-progress"]) == 0
    # a resumed run keeps its best so far
    train(tiny_config("train.total_iters=8", "train.save_every=6", "train.eval_every=2", "train.eval_sources=2",
                      "train.best_metric=content_iou:max", "train.keep_checkpoints=1"), run, resume=True,
          progress=False)
    again = json.loads((run / "checkpoints" / "best.json").read_text())
    assert again["value"] >= best["value"]


def test_best_metric_is_checked_before_training(synthetic_root, tmp_path, capsys):
    argv = ["train", "--config", "configs/synthetic.yaml", "--run-dir", str(tmp_path / "run"), "--no-progress",
            *[a for o in [*TINY, f"data.root={synthetic_root}"] for a in ("--set", o)]]
    assert main([*argv, "--set", "train.best_metric=content_iou"]) == 1
    assert "KEY:max or KEY:min" in capsys.readouterr().err
    assert main([*argv, "--set", "train.best_metric=content_iou:max"]) == 1
    assert "needs train.eval_every" in capsys.readouterr().err
    assert main([*argv, "--set", "train.best_metric=gt_nearest_iuo:max", "--set", "train.eval_every=2"]) == 1
    assert "no metric reports 'gt_nearest_iuo'" in capsys.readouterr().err  # a typo; a real key the data lack
    # falls back to ps_pixel_inter (tests/test_trust.py)
    assert not (tmp_path / "run" / "config.yaml").exists()  # refused before the run directory was written
    assert main(["eval", "--checkpoint", f"{tmp_path / 'run'}:best", "--data", str(synthetic_root)]) == 1
    assert "has no best checkpoint" in capsys.readouterr().err
