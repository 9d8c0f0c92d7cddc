"""Evaluation during training (``train.eval_every``) and the best checkpoint it keeps (``train.best_metric``).

Every ``eval_every`` iterations the loop saves a checkpoint and this module scores the EMA model, in memory, on the
first ``eval_sources`` validation images of each domain with the cheap metrics the data allow: PS with the pixel
distance always; content IoU on ``make-synthetic`` data; the ground-truth IoUs on glyph data; PS with LPIPS and FID
only when their pretrained files are already on disk (never downloaded, never random here). The means over tasks
go to ``log.jsonl`` and TensorBoard as ``eval/<key>``; when ``best_metric`` improves, ``checkpoints/best`` names the
checkpoint and ``checkpoints/best.json`` records the value, so a resumed run keeps its best so far.
"""
from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

from ..config import Config
from ..evaluation.content import read_manifest
from ..evaluation.evaluate import EvalSettings, evaluate
from ..evaluation.fid import INCEPTION_FILE
from ..evaluation.glyphs import is_glyph_data
from ..evaluation.metrics import REGISTRY
from ..inference import Translator
from ..pretrained import ALEXNET_FILE, find_weights
from ..rundir import BEST, BEST_FILE, CHECKPOINTS, write_json, write_text

log = logging.getLogger(__name__)


def tracked_metrics(data_root: str) -> tuple[str, ...]:
    """The metrics a training run can afford to compute as it goes, given the data and the weights on disk."""
    metrics = ["ps_pixel"]
    if is_glyph_data(data_root):
        metrics += ["glyph_reference", "glyph_latent"]
    elif read_manifest(data_root) is not None:
        metrics.append("content")
    if find_weights(ALEXNET_FILE) is not None:
        metrics.append("ps")
    if find_weights(INCEPTION_FILE) is not None:
        metrics.append("fid")
    return tuple(metrics)


class BestCheckpoint:
    """Score the EMA model every ``train.eval_every`` iterations and keep the best checkpoint by ``train.best_metric``.
    """

    def __init__(self, cfg: Config, run_dir: Path, domains: list[str]):
        t = cfg.train
        self.cfg, self.run_dir, self.domains = cfg, Path(run_dir), domains
        self.metrics = tracked_metrics(cfg.data.root)
        self.key, _, direction = t.best_metric.partition(":")
        self.sign = -1.0 if direction == "min" else 1.0
        keys = [k for name in self.metrics for k in REGISTRY[name].columns]
        if self.key and self.key not in keys:
            raise ValueError(f"train.best_metric={t.best_metric}: {self.key} is not measured during training on "
                             f"{cfg.data.root} (these are: {', '.join(keys)})")
        self.settings = EvalSettings(checkpoint="", data=cfg.data.root, metrics=self.metrics,
                                     num_sources=t.eval_sources, steps=10, num_outs=4, progress=False)
        best = self.root / BEST_FILE
        self.best = json.loads(best.read_text()) if best.is_file() else None  # survives a resume
        self.seconds = 0.0

    @property
    def root(self) -> Path:
        return self.run_dir / CHECKPOINTS

    def __call__(self, ema, device, step: int, checkpoint: Path, train_seconds: float) -> dict[str, float]:
        """Score ``ema`` (the EMA networks of iteration ``step``, saved as ``checkpoint``); move ``best`` to the
        checkpoint when the tracked metric improved. Returns ``eval/<key>`` means for the log."""
        tic = time.perf_counter()
        translator = Translator(ema, self.cfg, self.domains, device, source=str(checkpoint))
        report = evaluate(self.settings, translator)
        values = {key: m["mean"] for key, m in report["metrics"].items()}
        if self.key and math.isfinite(values[self.key]):
            value = values[self.key]
            if self.best is None or self.sign * value > self.sign * self.best["value"]:
                self.best = {"metric": self.cfg.train.best_metric, "value": value, "step": step,
                             "checkpoint": checkpoint.name}
                write_text(self.root / BEST, checkpoint.name + "\n")
                write_json(self.root / BEST_FILE, self.best)
        seconds = time.perf_counter() - tic
        self.seconds += seconds
        log.info("eval at step %d (%.1f s; evaluation so far %.1f%% of the run's time): %s%s", step, seconds,
                 100 * self.seconds / max(train_seconds, 1e-9), ", ".join(f"{k} {v:.4f}" for k, v in values.items()),
                 f"; best {self.key} {self.best['value']:.4f} at step {self.best['step']}" if self.best else "")
        return {f"eval/{k}": v for k, v in values.items()}
