"""Evaluation during training (``train.eval_every``) and the best checkpoint it keeps (``train.best_metric``).

Every ``eval_every`` iterations the loop saves a checkpoint and this module scores the EMA model, in memory, on the
first ``eval_sources`` validation images of each domain with the cheap metrics the data allow: PS with the pixel
distance always; content IoU on ``make-synthetic`` data; the ground-truth IoUs on glyph data; content retrieval
(``paired_latent``) on data paired by file name (``make-emoji``); PS with LPIPS and FID
only when their pretrained files are already on disk (never downloaded, never random here). The means over tasks
go to ``log.jsonl`` and TensorBoard as ``eval/<key>``; when ``best_metric`` improves, ``checkpoints/best.json`` names
the checkpoint with its value and step (one atomic write), so a resumed run keeps its best so far. A metric the data
cannot give falls back to PS with the pixel distance, with one warning.
"""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path

from i2i.config import Config
from i2i.evaluation.content import read_manifest
from i2i.evaluation.evaluate import EvalSettings, evaluate
from i2i.evaluation.fid import INCEPTION_FILE
from i2i.evaluation.glyphs import is_glyph_data
from i2i.evaluation.metrics import REGISTRY
from i2i.evaluation.paired import is_paired_folder
from i2i.inference import Translator
from i2i.pretrained import ALEXNET_FILE, find_weights
from i2i.rundir import read_best, write_best

log = logging.getLogger(__name__)


def tracked_metrics(data_root: str) -> tuple[str, ...]:
    """The metrics a training run can afford to compute as it goes, given the data and the weights on disk."""
    metrics = ["ps_pixel"]
    if is_glyph_data(data_root):
        metrics += ["glyph_reference", "glyph_latent"]
    elif read_manifest(data_root) is not None:
        metrics.append("content")
    if is_paired_folder(data_root):
        metrics.append("paired_latent")
    if find_weights(ALEXNET_FILE) is not None:
        metrics.append("ps")
    if find_weights(INCEPTION_FILE) is not None:
        metrics.append("fid")
    return tuple(metrics)


FALLBACK_METRIC = "ps_pixel_inter:max"  # measured on any data: PS with the pixel distance, no network


def best_metric_for(wanted: str, metrics: tuple[str, ...], data_root: str) -> str:
    """``train.best_metric`` if the tracked ``metrics`` measure it on this data, else :data:`FALLBACK_METRIC` with
    one warning (a shipped config trains on plain folders whose data lack its metric); "" when none is asked for.
    A key that no metric reports is a ValueError (a typo)."""
    key = wanted.partition(":")[0]
    if not wanted:
        return ""
    known = [k for metric in REGISTRY.values() for k in metric.columns]
    if key not in known:
        raise ValueError(f"train.best_metric={wanted}: no metric reports {key!r} (keys: {', '.join(known)})")
    measured = [k for name in metrics for k in REGISTRY[name].columns]
    if key in measured:
        return wanted
    log.warning("train.best_metric=%s: %s is not measured during training on %s (it measures %s); the best "
                "checkpoint is ranked by %s instead", wanted, key, data_root, ", ".join(measured), FALLBACK_METRIC)
    return FALLBACK_METRIC


class BestCheckpoint:
    """Score the EMA model every ``train.eval_every`` iterations and keep the best checkpoint by ``train.best_metric``.
    """

    def __init__(self, cfg: Config, run_dir: Path, domains: list[str]):
        t = cfg.train
        self.cfg, self.run_dir, self.domains = cfg, Path(run_dir), domains
        self.metrics = tracked_metrics(cfg.data.root)
        self.metric = best_metric_for(t.best_metric, self.metrics, cfg.data.root)
        self.key, _, direction = self.metric.partition(":")
        self.sign = -1.0 if direction == "min" else 1.0
        self.settings = EvalSettings(checkpoint="", data=cfg.data.root, metrics=self.metrics,
                                     num_sources=t.eval_sources, steps=10, num_outs=4, progress=False)
        best = read_best(run_dir)  # survives a resume, unless it ranked by another metric
        self.best = best if best is not None and best.get("metric") == self.metric and "value" in best else None
        self.seconds = 0.0

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
                self.best = {"metric": self.metric, "value": value, "step": step,
                             "checkpoint": checkpoint.name}
                write_best(self.run_dir, self.best)
        seconds = time.perf_counter() - tic
        self.seconds += seconds
        log.info("eval at step %d (%.1f s; evaluation so far %.1f%% of the run's time): %s%s", step, seconds,
                 100 * self.seconds / max(train_seconds, 1e-9), ", ".join(f"{k} {v:.4f}" for k, v in values.items()),
                 f"; best {self.key} {self.best['value']:.4f} at step {self.best['step']}" if self.best else "")
        return {f"eval/{k}": v for k, v in values.items()}
