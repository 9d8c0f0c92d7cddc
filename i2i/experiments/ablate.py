"""``i2i ablate``: the paper's Table 4 on any data set: train each loss variant with the same seeds, iterations
and data stream, evaluate each, and tabulate mean ± std over seeds plus one interpolation strip per variant.

Every variant of seed ``k`` uses ``train.seed = base + k``: the same initial networks and the same batches
(a pure function of the seed and the iteration), so variants differ by their losses alone. Finished runs
(final checkpoint and ``eval.json`` present) are skipped, unfinished ones resumed.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import replace
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from i2i.evaluation.evaluate import EvalSettings, evaluate
from i2i.evaluation.glyphs import ABLATION_METRICS as GLYPH_ABLATION_METRICS
from i2i.evaluation.glyphs import STYLE_PATHS, is_glyph_data
from i2i.evaluation.metrics import REGISTRY, columns
from i2i.evaluation.perceptual import LPIPSDistance, PixelDistance
from i2i.evaluation.ps import perceptual_smoothness, sequence_distances

from i2i.config import load_config
from i2i.data.dataset import DomainImages, scan_split
from i2i.data.images import to_float, to_uint8
from i2i.kinds import KINDS
from i2i.inference import Translator, prepare_image
from i2i.media import grid_image
from i2i.plots import line_chart
from i2i.pretrained import RANDOM_WEIGHTS, build_lpips
from i2i.rundir import checkpoint_name, exclusive_writer, latest_checkpoint, write_json, write_text

log = logging.getLogger(__name__)

# name -> (Table 4 row label, loss overrides): each smoothing term is switched off by a zero weight
VARIANTS = {
    "baseline": ("A: StarGAN v2", ["loss.lambda_tri=0", "loss.lambda_sr=0", "loss.lambda_cont=0"]),
    "tri": ("A + L_tri", ["loss.lambda_sr=0", "loss.lambda_cont=0"]),
    "sr": ("A + L_SR", ["loss.lambda_tri=0", "loss.lambda_cont=0"]),
    "tri_sr": ("A + L_SR, L_tri", ["loss.lambda_cont=0"]),
    "full": ("A + L_SR, L_tri, L_cont (ours)", []),
}
ABLATION_METRICS = ("fid", "lpips", "ps", "ps_pixel", "domain_acc")  # the paper's, PS's pixel distance beside it
TRUTH_METRICS = ("content", "paired_reference", "paired_latent")  # added where the data has their ground truth


def default_metrics(data: str) -> tuple[str, ...]:
    """The metrics of the ablation table for a data root: the glyph set on glyph data
    (:data:`i2i.evaluation.glyphs.ABLATION_METRICS`), else the paper's with PS's pixel distance and domain accuracy,
    plus the ground-truth metrics the data defines (a content manifest, validation images paired by name)."""
    if is_glyph_data(data):
        return GLYPH_ABLATION_METRICS
    return ABLATION_METRICS + tuple(m for m in TRUTH_METRICS if REGISTRY[m].default(None, data))


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    m = sum(values) / len(values)
    var = sum((v - m) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
    return m, math.sqrt(var)


def run_variant(name: str, seed: int, config: str, overrides: list[str], out: Path, eval_settings: EvalSettings,
                progress: bool = True) -> dict:
    """Train (or resume, or skip) one variant at one seed, then evaluate it; return its eval report. Training stays
    out of evaluation's import graph until a run is needed."""
    run_dir = out / name / f"seed{seed}"
    with exclusive_writer(run_dir, "i2i ablate"):
        return _run_variant(name, seed, config, overrides, run_dir, eval_settings, progress)


def _run_variant(name: str, seed: int, config: str, overrides: list[str], run_dir: Path,
                 eval_settings: EvalSettings, progress: bool) -> dict:
    from i2i.training import train

    report_path = run_dir / "eval.json"
    cfg = load_config(config, [*overrides, *VARIANTS[name][1]])
    cfg.train.seed += seed
    total = cfg.train.total_iters
    ckpt = latest_checkpoint(run_dir)
    done = ckpt is not None and ckpt.name == checkpoint_name(total)
    if not done:
        log.info("training %s seed %d for %d iterations into %s", name, seed, total, run_dir)
        train(cfg, run_dir, resume=True, progress=progress)  # its own folder: continue what is there
    elif report_path.is_file():
        return json.loads(report_path.read_text())
    report = evaluate(replace(eval_settings, checkpoint=str(run_dir), data=cfg.data.root, progress=progress))
    write_json(report_path, report)
    return report


def summarise(reports: dict[str, list[dict]]) -> dict:
    """``{variant: {metric: {"mean", "std", "values"}}}`` over seeds of each metric's mean over tasks."""
    summary = {}
    for name, runs in reports.items():
        summary[name] = {}
        for key in columns():
            values = [r["metrics"][key]["mean"] for r in runs if key in r["metrics"]]
            if values:
                m, s = mean_std(values)
                summary[name][key] = {"mean": m, "std": s, "values": values}
    return summary


def row_labels(variants: list[str], kind: str = "stargan_v2") -> dict[str, str]:
    """Table 4 row labels; the baseline "A" is TUNIT for ``model.kind: tunit`` (the paper's Table 3 setting)."""
    return {name: VARIANTS[name][0].replace("StarGAN v2", KINDS[kind].title) for name in variants}


def table_markdown(summary: dict, random_weights: bool, seeds: int, labels: dict[str, str] | None = None) -> str:
    """The paper's Table 4 layout (one row per variant) with content IoU and domain accuracy added."""
    labels = labels or row_labels(list(summary))
    keys = [k for k in columns() if any(k in row for row in summary.values())]
    tag = f" [{RANDOM_WEIGHTS}]" if random_weights else ""
    known = columns()
    header = "| Model | " + " | ".join(f"{known[k][0]} {known[k][1]}" + (tag if known[k][2] else "")
                                      for k in keys) + " |"
    lines = [header, "|---|" + "---:|" * len(keys)]
    for name, row in summary.items():
        cells = [f"{row[k]['mean']:.3f} ± {row[k]['std']:.3f}" if seeds > 1 else f"{row[k]['mean']:.3f}"
                 if k in row else "-" for k in keys]
        lines.append(f"| {labels[name]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def strip_paths(domains: list[str]) -> list[tuple[int, int]]:
    """The (from, to) domain labels the strip interpolates: the glyph styles' paths
    (:data:`i2i.evaluation.glyphs.STYLE_PATHS`) where the data has those domains, else the first domain to the
    second."""
    if all(name in domains for pair in STYLE_PATHS for name in pair):
        return [(domains.index(a), domains.index(b)) for a, b in STYLE_PATHS]
    return [(0, 1 % len(domains))]


@torch.inference_mode()
def comparison_strip(translators: dict[str, Translator], data: str, out: Path, steps: int = 10, seed: int = 0,
                     random_weights: bool = False, labels: dict[str, str] | None = None) -> Path:
    """One PNG, one row per variant and path (:func:`strip_paths`): the same source (the first validation image
    of the path's first domain) from the same latent ``z_0`` in that domain to ``z_1`` in the other, mapped
    through each variant's own mapping network, with the row's Perceptual Smoothness written beside it."""
    labels = labels or row_labels(list(translators))
    net, provenance = build_lpips(random_weights, allow_random_fallback=False)
    distance = LPIPSDistance(net, "lpips")
    domains, files = scan_split(data, "val")  # file names only: nothing decoded
    rows, texts = [], []
    for name, t in translators.items():
        z = torch.randn(2, t.cfg.model.latent_dim, generator=torch.Generator().manual_seed(seed))
        for first, last in strip_paths(domains):
            x = prepare_image(files[first][0], t.img_size)[None]
            s = t.nets.mapping_network(z, torch.tensor([first, last]))
            frames = t.decode_interpolation(x, s[:1], s[1:], torch.linspace(0, 1, steps)).clamp(-1, 1)
            ps = perceptual_smoothness(*sequence_distances(distance, frames)).ps.item()
            rows.append(frames[0])
            texts.append(f"{labels[name]}  {domains[first]} -> {domains[last]}  PS {ps:.3f}"
                         + (f" [{RANDOM_WEIGHTS}]" if provenance == RANDOM_WEIGHTS else ""))
    scale = max(1, 64 // rows[0].size(-1))
    img = Image.fromarray(grid_image(to_uint8(torch.cat(rows)), ncol=steps))
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    row_h, text_w = img.height // len(rows), 420
    canvas = Image.new("RGB", (img.width + text_w, img.height), "white")
    canvas.paste(img, (text_w, 0))
    draw = ImageDraw.Draw(canvas)
    for i, label in enumerate(texts):
        draw.text((6, i * row_h + row_h // 2 - 6), label, fill="black")
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out)
    return out


@torch.inference_mode()
def step_profiles(translators: dict[str, Translator], data: str, out: Path, steps: int = 10, sources: int = 32,
                  seed: int = 0, labels: dict[str, str] | None = None) -> list[Path]:
    """Where along the inter-domain paths the change bunches up. For each path of :func:`strip_paths`, the share of
    its length (pixel L1 between consecutive frames) that each step takes, averaged over the first ``sources``
    validation images of the path's first domain (one latent draw per end and source, the same for every variant),
    one line per variant: a flat line at ``1 / (steps - 1)`` is a uniform path, a peak an abrupt switch. One
    ``ablation_steps_<a>2<b>.png`` per path; returns them."""
    labels = labels or row_labels(list(translators))
    size = next(iter(translators.values())).img_size
    images = DomainImages(data, "val", size, progress=False)
    charts = []
    for first, last in strip_paths(images.domains):
        index = list(images.domain_indices(first))[:sources]
        x = to_float(torch.stack([images.image(i) for i in index]))
        series = {}
        for name, t in translators.items():
            g = torch.Generator().manual_seed(seed)
            s0, s1 = (t.latent_styles(torch.full((len(index),), label), g) for label in (first, last))
            frames = t.decode_interpolation(x, s0, s1, torch.linspace(0, 1, steps)).clamp(-1, 1)
            d, _ = sequence_distances(PixelDistance(), frames)
            series[labels[name]] = (d / d.sum(1, keepdim=True).clamp_min(1e-12)).mean(0).tolist()
        a, b = images.domains[first], images.domains[last]
        path = out / f"ablation_steps_{a}2{b}.png"
        line_chart(series, f"share of the path each step takes, {a} -> {b} (pixel L1; uniform: {1 / (steps - 1):.3f})",
                   "step").save(path)
        charts.append(path)
    return charts


def ablate(config: str, out: str | Path, variants: list[str], seeds: int, overrides: list[str],
           eval_settings: EvalSettings, progress: bool = True) -> dict:
    """Train and evaluate every variant at every seed; write ``ablation.{md,json,png}`` under ``out``."""
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variant(s) {', '.join(unknown)}: choose from {', '.join(VARIANTS)}")
    if seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {seeds}")
    out = Path(out)
    with exclusive_writer(out, "i2i ablate"):
        return _ablate(config, out, variants, seeds, overrides, eval_settings, progress)


def _ablate(config: str, out: Path, variants: list[str], seeds: int, overrides: list[str],
            eval_settings: EvalSettings, progress: bool) -> dict:
    if not eval_settings.metrics:
        eval_settings = replace(eval_settings, metrics=default_metrics(load_config(config, overrides).data.root))
    reports = {name: [run_variant(name, k, config, overrides, out, eval_settings, progress) for k in range(seeds)]
               for name in variants}
    summary = summarise(reports)
    random = eval_settings.random_weights
    labels = row_labels(variants, load_config(config, overrides).model.kind)
    table = table_markdown(summary, random, seeds, labels)
    translators = {name: Translator.load(out / name / "seed0", "cpu") for name in variants}
    data = reports[variants[0]][0]["data"]
    strip = comparison_strip(translators, data, out / "ablation.png", random_weights=random, labels=labels)
    profiles = step_profiles(translators, data, out, labels=labels)
    result = {"variants": labels, "seeds": seeds, "overrides": overrides, "random_weights": random,
              "summary": summary, "strip": str(strip), "step_profiles": [str(p) for p in profiles]}
    write_json(out / "ablation.json", result)
    note = (f"\n\n{RANDOM_WEIGHTS}: FID, LPIPS and PS ran on random metric networks; compare rows with each other "
            "only.\n") if random else "\n"
    write_text(out / "ablation.md", f"{table}\n\nMean ± std over {seeds} seed(s); config `{config}` "
                                     f"{' '.join(overrides)}.{note}")
    return result
