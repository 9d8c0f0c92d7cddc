"""``i2i eval``: run the metrics over every task src -> trg of a dataset's validation split and build a report."""
from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from i2i.clustering import cluster_accuracy, normalized_mutual_info
from i2i.data.dataset import DomainImages, scan_split
from i2i.data.images import to_float
from i2i.inference import Translator
from i2i.kinds import model_kind
from i2i.pretrained import RANDOM_WEIGHTS

from i2i.evaluation import content, protocols
from i2i.evaluation.fid import FEATURE_DIM, FeatureStatistics, fid_from_statistics
from i2i.evaluation.metrics import NETWORKS, REGISTRY, GeneratedBatch
from i2i.evaluation.perceptual import DISTANCES
from i2i.evaluation.ps import interpolation_alphas
from i2i.evaluation.real_stats import default_cache_dir, real_statistics
from i2i.evaluation.report import build_report

log = logging.getLogger(__name__)

FID_PROTOCOLS = ("interpolation", "translation")


@dataclass
class EvalSettings:
    """What ``i2i eval`` measures and how; the defaults follow the paper (Sec. 5)."""

    checkpoint: str
    data: str
    metrics: tuple[str, ...] | None = None  # None: fid, lpips, ps, domain_acc; frd for face models (w_hpf > 0);
    # content when the data root has a manifest.csv of content parameters (i2i make-synthetic)
    tasks: tuple[str, ...] | None = None  # "src2trg" names; None: every ordered pair of domains
    num_sources: int | None = None  # per source domain; None: every validation image (the paper: 1,000)
    steps: int = 20  # frames per interpolation, end points included
    include_end: bool = True  # False: alphas 0, 1/F, ..., (F-1)/F as in the authors' PS script
    mode: str = "latent"  # style codes from the mapping network, or "reference" images
    distance: str = "lpips"  # PS's delta: "lpips" (authors' script) or "sqrt-lpips" (a metric)
    num_outs: int = 10  # translations per source for LPIPS diversity, FRD and the translation FID
    fid_protocol: str = "interpolation"  # paper: interpolation frames; "translation": StarGAN v2's
    real_split: str = "train"  # FID's real images of the target domain (StarGAN v2 uses train)
    batch_size: int = 40  # images per generator forward
    seed: int = 0
    weights_dir: str | None = None
    random_weights: bool = False
    device: str = "auto"
    stats_cache: str | None = None  # None: default_cache_dir(); "" disables the cache
    save_images: str | None = None
    progress: bool = True

    def validate(self) -> "EvalSettings":
        unknown = set(self.metrics or ()) - set(REGISTRY)
        if unknown:
            raise ValueError(f"unknown metric(s) {', '.join(sorted(unknown))}: choose from {', '.join(REGISTRY)}")
        checks = [(self.steps >= 2, f"--steps must be at least 2, got {self.steps}"),
                  (self.num_outs >= 2, f"--num-outs must be at least 2, got {self.num_outs}"),
                  (self.num_sources is None or self.num_sources >= 1, "--num-sources must be at least 1"),
                  (self.batch_size >= 1, "--batch-size must be at least 1"),
                  (self.mode in protocols.MODES, f"--mode must be one of {', '.join(protocols.MODES)}"),
                  (self.distance in DISTANCES, f"--distance must be one of {', '.join(DISTANCES)}"),
                  (self.fid_protocol in FID_PROTOCOLS, f"--fid-protocol must be one of {', '.join(FID_PROTOCOLS)}")]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        return self


class _Context:
    """Everything one evaluation shares across tasks: model, images, metric networks, real statistics."""

    def __init__(self, s: EvalSettings, translator: Translator, metrics: list[str]):
        self.s, self.translator, self.metrics = s, translator, metrics
        networks = {net for name in metrics for net in REGISTRY[name].networks}
        self.val = DomainImages(s.data, "val", translator.img_size, progress=s.progress)
        self.references: dict[str, float] = {}
        self.notes: list[str] = []
        mode = s.mode
        if model_kind(translator.cfg.model).pseudo_domains:  # TUNIT: score on the data's true domains
            mode = "reference"
            self.notes.append(f"TUNIT model (trained without labels): tasks are the true domains of {s.data}/val, "
                              "styles come from reference images of the target domain (--mode reference), and "
                              "cluster_acc / cluster_nmi score its clusters against those domains")
            pred = translator.domain_of(torch.stack([self.val.image(i) for i in range(len(self.val))]))
            self.references["cluster_acc"] = cluster_accuracy(pred, self.val.labels)
            self.references["cluster_nmi"] = normalized_mutual_info(pred, self.val.labels)
        elif self.val.domains != translator.domains:
            raise ValueError(f"{s.data}/val has domains {self.val.domains}, the model was trained on "
                             f"{translator.domains}")
        self.domains = self.val.domains
        self.sampler = protocols.StyleSampler(translator, self.val, mode)
        self.alphas = interpolation_alphas(s.steps, s.include_end)
        self.weights: dict[str, str] = {}
        self.loaded: set[str] = set()
        for name in NETWORKS:  # in registration order
            if name in networks:
                self.need(name)

    def need(self, name: str) -> None:
        """Load what metrics declare as ``name`` (:data:`i2i.evaluation.metrics.NETWORKS`) onto this context, once."""
        if name not in self.loaded:
            NETWORKS[name](self)
            self.loaded.add(name)

    def content_scores(self, images: torch.Tensor, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """IoU and centre error of images (N, K, 3, S, S) made from the validation images ``index`` (N,)."""
        truth = self.true_masks[index].repeat_interleave(images.size(1), 0)
        return content.content_scores(content.foreground_masks(images.flatten(0, 1).cpu()), truth)

    def val_float(self, index: torch.Tensor) -> torch.Tensor:
        """Validation images ``index`` (any shape) as float [-1, 1] on the model's device (decoded once)."""
        if self._val_float is None:
            self._val_float = to_float(torch.stack([self.val.image(i) for i in range(len(self.val))]))
        return self._val_float[index.cpu()].to(self.translator.device)

    @property
    def cache_dir(self) -> Path | None:
        """Where real-image statistics and the domain classifier are cached (None: no cache)."""
        if self.s.stats_cache is None:
            return default_cache_dir()
        return Path(self.s.stats_cache) if self.s.stats_cache else None

    def real_stats(self, label: int) -> tuple:
        if label not in self.real:
            if self.real_files is None:
                self.real_files = scan_split(self.s.data, self.s.real_split)
            domains, files = self.real_files
            folder = Path(self.s.data) / self.s.real_split / domains[label]
            self.real[label], hit = real_statistics(self.inception, self.weights["inception"], folder,
                                                    files[label], self.translator.img_size, self.cache_dir,
                                                    progress=self.s.progress)
            self.cache_hits[domains[label]] = hit
        return self.real[label]

    def fid(self, label: int, fake: FeatureStatistics) -> float:
        value, n = fid_from_statistics(self.real_stats(label), fake)
        self.fewest_fid_images = min(self.fewest_fid_images, n)
        return value

    def save(self, images: torch.Tensor, task: str, kind: str, first: int) -> None:
        if self.s.save_images:
            protocols.save_generated(images, Path(self.s.save_images) / task / kind, first)


PURPOSES = {"inter": 0, "intra": 1, "translations": 2, "references": 3}  # seeds of the per-task generators
SAVED_AS = {"inter": "interpolation", "intra": "interpolation_intra", "translations": "translation",
            "references": "translation_reference"}


def scorers_by_set(metrics: list[str], settings: EvalSettings) -> dict[str, list]:
    """For each image set, the registered metrics that score it (sets nobody needs are not generated)."""
    by_set: dict[str, list] = {}
    for name in metrics:
        for image_set in REGISTRY[name].image_sets(settings):
            by_set.setdefault(image_set, []).append(REGISTRY[name])
    return {image_set: by_set[image_set] for image_set in PURPOSES if image_set in by_set}


def _generate(ctx: _Context, image_set: str, x: torch.Tensor, src: int, trg: int, g: torch.Generator) -> tuple:
    """``(images, reference indices, reference images)`` of one batch of sources (no references but for the
    ``references`` set)."""
    if image_set == "references":
        return protocols.reference_translations(ctx.translator, ctx.sampler, x, trg, ctx.s.num_outs, g)
    if image_set == "translations":
        return protocols.random_translations(ctx.translator, ctx.sampler, x, trg, ctx.s.num_outs, g), None, None
    first = src if image_set == "inter" else trg
    return protocols.interpolation_frames(ctx.translator, ctx.sampler, x, first, trg, ctx.alphas, g), None, None


def _score_set(ctx: _Context, image_set: str, metrics: list, src: int, trg: int, task: str, bar) -> dict[str, float]:
    """Generate one image set of a task batch by batch, score every batch with each metric, reduce per metric."""
    s = ctx.s
    per_source = s.num_outs if image_set in ("translations", "references") else s.steps
    g = protocols.task_generator(s.seed, src, trg, PURPOSES[image_set])
    collected: dict[str, dict[str, list]] = {m.name: {} for m in metrics}
    sources = ctx.val.domain_indices(src)
    for start, x in protocols.source_batches(ctx.val, src, s.num_sources, max(1, s.batch_size // per_source)):
        images, ref_index, ref_images = _generate(ctx, image_set, x, src, trg, g)
        index = torch.tensor(list(sources[start:start + x.size(0)]))
        batch = GeneratedBatch(images, image_set, x, src, trg, start, index, ref_index, ref_images)
        for metric in metrics:
            for key, value in metric.score(ctx, batch).items():
                collected[metric.name].setdefault(key, []).append(value)
        ctx.save(images, task, SAVED_AS[image_set], start)
        bar.update(x.size(0))
    out: dict[str, float] = {}
    for metric in metrics:
        out.update(metric.reduce(ctx, trg, collected[metric.name]))
    return out


def resolve_metrics(requested: tuple[str, ...] | None, translator: Translator,
                    data: str | None = None) -> tuple[list[str], list[str]]:
    """The metrics to compute and notes about skipped ones: FRD only for face models and content only for data
    with a content manifest, unless asked for."""
    if requested:
        return [m for m in REGISTRY if m in requested], []
    chosen = [name for name, metric in REGISTRY.items() if metric.default(translator, data)]
    notes = [] if "frd" in chosen else [
        "FRD skipped: the model is not a face model (model.w_hpf == 0); ask for it with --metrics frd"]
    return chosen, notes


def select_tasks(domains: list[str], names: tuple[str, ...] | None) -> list[tuple[int, int]]:
    """``(src, trg)`` label pairs: every ordered pair in StarGAN v2's order (by target), or the named ones."""
    n = len(domains)
    every = {f"{domains[src]}2{domains[trg]}": (src, trg) for trg in range(n) for src in range(n) if src != trg}
    if not names:
        return list(every.values())
    unknown = [name for name in names if name not in every]
    if unknown:
        raise ValueError(f"unknown task(s) {', '.join(unknown)}: choose from {', '.join(every)}")
    return [every[name] for name in names]


def evaluate(settings: EvalSettings, translator: Translator | None = None) -> dict:
    """Compute the requested metrics for every task and return the report (see :mod:`i2i.evaluation.report`); the
    model is ``settings.checkpoint``'s, or ``translator`` when given (e.g. the EMA networks during training)."""
    s = settings.validate()
    t0 = time.perf_counter()
    translator = translator or Translator.load(s.checkpoint, s.device)
    metrics, notes = resolve_metrics(s.metrics, translator, s.data)
    ctx = _Context(s, translator, metrics)
    if s.random_weights:
        notes.append(f"{RANDOM_WEIGHTS}: every metric network has random weights; the numbers exercise the "
                     "pipeline and are not comparable with published ones")
    notes += ctx.notes
    tasks = select_tasks(ctx.domains, s.tasks)
    per_task: dict[str, dict] = {}
    sources = sum(len(ctx.val.domain_indices(src)[:s.num_sources]) for src, _ in tasks)
    by_set = scorers_by_set(metrics, s)
    with tqdm(total=sources * len(by_set), desc="eval", unit="src", disable=not s.progress) as bar:
        for src, trg in tasks:
            task = f"{ctx.domains[src]}2{ctx.domains[trg]}"
            bar.set_postfix_str(task)
            per_task[task] = {}
            with torch.inference_mode():
                for kind, scorers in by_set.items():
                    per_task[task].update(_score_set(ctx, kind, scorers, src, trg, task, bar))
    if "fid" in metrics and ctx.fewest_fid_images < FEATURE_DIM:
        notes.append(f"FID from as few as {ctx.fewest_fid_images} images per set (< {FEATURE_DIM}): the covariance "
                     "is singular and FID biased upwards; compare only FIDs computed from the same image counts")
        log.warning(notes[-1])
    if "fid" in metrics and ctx.cache_hits:
        notes.append("real-image FID statistics: " + ", ".join(
            f"{d} {'from cache' if hit else 'computed'}" for d, hit in ctx.cache_hits.items()))
    return build_report(s, translator, per_task, ctx.weights, notes, time.perf_counter() - t0,
                        dataclasses.asdict(s), ctx.references)
