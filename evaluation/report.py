"""Evaluation reports: a JSON document (per task, mean, settings, weights, versions) and Markdown tables."""
from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

from i2i.rundir import resolve_checkpoint, write_json, write_text
from i2i.pretrained import RANDOM_WEIGHTS

from i2i.evaluation.metrics import columns

REFERENCES = {  # reference points printed beside the content metrics
    "content_iou_source": "content IoU of the sources themselves (segmentation's ceiling)",
    "content_iou_centred_disc": "content IoU of a fixed centred disc (a model that ignores content)",
    "com_error_source": "centre error of the sources themselves, px",
    "com_error_centred_disc": "centre error of a fixed centred disc, px",
    "domain_acc_real_val": "domain classifier's accuracy on real validation images",
    "domain_acc_hueblind_real_val": "hue-blind domain classifier's accuracy on real validation images",
    "cluster_acc": "TUNIT clusters vs the true domains of the validation images: accuracy, best one-to-one matching",
    "cluster_nmi": "TUNIT clusters vs the true domains of the validation images: normalised mutual information",
}
PACKAGES = ("torch", "torchvision", "numpy", "lpips", "pytorch-fid", "facenet-pytorch", "i2i")


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def column_label(key: str, weights: dict[str, str]) -> str:
    """``"FID ↓"``, or ``"FID ↓ [random-weights]"`` when its metric network had random weights."""
    title, arrow, net = columns()[key]
    return f"{title} {arrow}" + (f" [{RANDOM_WEIGHTS}]" if weights.get(net) == RANDOM_WEIGHTS else "")


def build_report(settings, translator, per_task: dict[str, dict], weights: dict[str, str], notes: list[str],
                 elapsed_s: float, settings_dict: dict, references: dict[str, float] | None = None) -> dict:
    """The JSON-ready report: one entry per metric with its label, weights, per-task values and mean."""
    metrics, known = {}, columns()
    for key in known:
        values = {task: v[key] for task, v in per_task.items() if key in v}
        if values:
            net = known[key][2]
            metrics[key] = {"label": column_label(key, weights), "weights": weights.get(net, ""),
                            "tasks": values, "mean": sum(values.values()) / len(values)}
    details = {task: {k: v for k, v in values.items() if k not in known} for task, values in per_task.items()}
    loss = translator.cfg.loss
    content_loss = ("off" if loss.lambda_cont == 0 else
                    RANDOM_WEIGHTS if loss.lpips_weights == "random" else "pretrained")
    if content_loss == RANDOM_WEIGHTS:
        notes = [*notes, f"the model was trained with a {RANDOM_WEIGHTS} LPIPS content loss (loss.lpips_weights: "
                         "random): its content term was not a perceptual distance"]
    return {
        "model": resolve_checkpoint(settings.checkpoint)[0].name if settings.checkpoint else "model",
        "checkpoint": translator.source,
        "data": str(settings.data),
        "domains": translator.domains,
        "random_weights": settings.random_weights,
        "weights": weights,
        "training_content_loss_lpips": content_loss,
        "metrics": metrics,
        "details": details,
        "notes": notes,
        "references": references or {},
        "settings": settings_dict,
        "protocol": {
            "ps": f"mean over sources of the per-sequence harmonic mean of alignment and uniformity; delta = "
                  f"{settings.distance}; {settings.steps} frames, alphas "
                  + ("t/(F-1) (both end points)" if settings.include_end else "t/F (authors' script)"),
            "fid": (f"{settings.fid_protocol} images vs real {settings.real_split} images of the target domain, "
                    "pytorch-fid InceptionV3 pool3 (2048-d)"),
            "lpips": f"mean LPIPS over all pairs of {settings.num_outs} translations per source",
            "frd": f"mean squared L2 of VGGFace2 embeddings, source vs each of {settings.num_outs} translations",
            "content": "foreground (distance from a border-fitted background plane) IoU and centre error against the "
                       "source's true shape mask from manifest.csv; path IoU over the inter-domain interpolation "
                       "frames",
            "domain_acc": "share of translations a small CNN trained on the real train images assigns to the target",
            "domain_acc_hueblind": "the same with a classifier trained under random hue rotations and contrast "
                                   "jitter (pattern and shape only)",
            "styles": settings.mode,
        },
        "versions": _versions(),
        "elapsed_s": round(elapsed_s, 2),
    }


def _fmt(value: float) -> str:
    return f"{value:.2f}" if abs(value) >= 10 else f"{value:.4f}"


def task_table(report: dict) -> str:
    """Markdown table with one row per task (and the mean), one column per metric: the per-task figures."""
    metrics = report["metrics"]
    keys = list(metrics)
    lines = ["| Task | " + " | ".join(metrics[k]["label"] for k in keys) + " |",
             "|---|" + "---:|" * len(keys)]
    tasks = list(next(iter(metrics.values()))["tasks"]) if metrics else []
    for task in tasks:
        lines.append(f"| {task} | " + " | ".join(_fmt(metrics[k]["tasks"][task]) for k in keys) + " |")
    lines.append("| **mean** | " + " | ".join(f"**{_fmt(metrics[k]['mean'])}**" for k in keys) + " |")
    return "\n".join(lines)


def paper_table(report: dict) -> str:
    """Markdown table in the paper's layout: one row per model, one column per metric (its mean over the tasks);
    a column whose metric network had random weights says so in its label."""
    metrics = report["metrics"]
    header = ["Model", *(m["label"] for m in metrics.values())]
    cells = [report["model"], *(_fmt(m["mean"]) for m in metrics.values())]
    return "\n".join(["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1),
                      "| " + " | ".join(cells) + " |"])


def markdown(report: dict) -> str:
    """The whole Markdown report: warnings, the two tables, notes and settings."""
    parts = [f"# Evaluation of `{report['model']}`", ""]
    if any(w == RANDOM_WEIGHTS for w in report["weights"].values()):
        parts += [f"> **{RANDOM_WEIGHTS}**: metric networks ran on random weights "
                  f"({', '.join(k for k, w in report['weights'].items() if w == RANDOM_WEIGHTS)}). These numbers "
                  "test the pipeline only; they are not FID/LPIPS/PS/FRD values comparable with any paper.", ""]
    parts += [paper_table(report), "", "Per task:", "", task_table(report), ""]
    parts += [f"- {note}" for note in report["notes"]]
    parts += [f"- reference: {REFERENCES.get(k, k)} = {_fmt(v)}" for k, v in report.get("references", {}).items()]
    parts += [f"- {name}: {text}" for name, text in report["protocol"].items()]
    parts += [f"- weights: {', '.join(f'{k} = {v}' for k, v in report['weights'].items())}",
              f"- checkpoint: `{report['checkpoint']}`, seed {report['settings']['seed']}, "
              f"{report['elapsed_s']} s"]
    return "\n".join(parts) + "\n"


def write_report(report: dict, out: str | Path) -> tuple[Path, Path]:
    """Write ``out`` (JSON) and the Markdown next to it (same name, ``.md``), each atomically."""
    out = Path(out)
    md = out.with_suffix(".md")
    write_json(out, report)
    write_text(md, markdown(report))
    return out, md
