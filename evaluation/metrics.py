"""The metric registry: each metric is one function that scores one batch of generated images.

``i2i eval`` generates three image sets per task (the protocols of the paper, Sec. 5) and hands every batch
to each registered metric that asked for that set:

- ``inter``: inter-domain interpolation frames (N, F, 3, S, S), s_0 from the source domain, s_T from the target;
- ``intra``: intra-domain interpolation frames, both ends from the target domain;
- ``translations``: K random translations per source to the target domain (N, K, 3, S, S);
- ``references``: K translations per source guided by reference images of the target domain drawn from the
  validation split (N, K, 3, S, S), whatever ``--mode`` says; the batch carries the references.

A metric function returns per-sample tensors (averaged over the task) or, with ``reduce``, anything its
reducer turns into numbers at the end of the task. What a metric needs besides the images (a metric network, a
trained classifier, ground truth read from the data) it declares by name in ``networks``; each name has one
loader here (:func:`network`) that puts it on the evaluation context, and the evaluator loads exactly what the
chosen metrics declare. Adding a metric is one decorated function here, plus its loader if it needs something new.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from i2i.data.images import to_float, to_uint8
from i2i.evaluation import content
from i2i.evaluation.content import read_manifest
from i2i.evaluation.domain_accuracy import load_or_train_classifier, predict, probabilities, real_accuracy
from i2i.evaluation.fid import FEATURE_DIM, FeatureStatistics, build_inception, inception_features
from i2i.evaluation.frd import build_face_embedder, face_embeddings, face_recognition_distance
from i2i.evaluation.glyphs import (glyph_chars, is_glyph_data, nearest_iou, read_glyph_truth, reference_scores,
                                   rises_monotonically, transition)
from i2i.evaluation.lpips_diversity import lpips_diversity
from i2i.evaluation.paired import TOP_K, is_paired_folder, paired_truth, reference_distances, retrieval_hits
from i2i.evaluation.perceptual import LPIPSDistance, PixelDistance
from i2i.pretrained import build_lpips
from i2i.evaluation.ps import perceptual_smoothness, sequence_distances

IMAGE_SETS = ("inter", "intra", "translations", "references")
PIXEL_DISTANCE = PixelDistance()


@dataclass(frozen=True)
class GeneratedBatch:
    """What a metric function receives: generated ``images`` (N, F or K, 3, S, S) in [-1, 1] of one image set
    (``image_set``), the N ``sources`` they were made from (validation images ``index``: the ``first``-th onwards of
    domain ``src``) and ``trg``; for the ``references`` set, the validation indices (N, K) and images of the
    references."""

    images: torch.Tensor
    image_set: str
    sources: torch.Tensor
    src: int
    trg: int
    first: int
    index: torch.Tensor
    reference_index: torch.Tensor | None = None
    reference_images: torch.Tensor | None = None


NETWORKS: dict[str, Callable] = {}  # name -> loader(ctx): what metrics declare in ``networks``


def network(name: str):
    """Decorator: register ``load(ctx)``, which puts what ``name`` stands for on the evaluation context ``ctx`` (its
    settings ``ctx.s``, ``ctx.translator``, validation images ``ctx.val``, ``ctx.weights`` provenance, reference
    figures ``ctx.references``; ``ctx.need(other)`` loads another name first)."""
    def add(load: Callable) -> Callable:
        NETWORKS[name] = load
        return load
    return add


@network("lpips")
def _load_lpips(ctx) -> None:
    s = ctx.s
    net, ctx.weights["lpips"] = build_lpips(s.random_weights, allow_random_fallback=False, weights_dir=s.weights_dir)
    ctx.lpips_net = net.to(ctx.translator.device)
    ctx.distance = LPIPSDistance(ctx.lpips_net, s.distance)
    ctx.diversity = LPIPSDistance(ctx.lpips_net, "lpips")


@network("inception")
def _load_inception(ctx) -> None:
    net, ctx.weights["inception"] = build_inception(ctx.s.random_weights, ctx.s.weights_dir)
    ctx.inception = net.to(ctx.translator.device)
    ctx.real, ctx.real_files, ctx.cache_hits, ctx.fewest_fid_images = {}, None, {}, FEATURE_DIM


@network("facenet")
def _load_facenet(ctx) -> None:
    net, ctx.weights["facenet"] = build_face_embedder(ctx.s.random_weights, ctx.s.weights_dir)
    ctx.facenet = net.to(ctx.translator.device)


@network("content_truth")
def _load_content_truth(ctx) -> None:
    """True shape masks of every validation image, and the IoU / centre error of the two reference points: the
    sources themselves (segmented like translations) and a fixed centred disc."""
    manifest = content.read_manifest(ctx.s.data)
    masks = None if manifest is None else content.true_masks(manifest, ctx.s.data, ctx.val.paths,
                                                              ctx.translator.img_size)
    if masks is None:
        raise ValueError(f"metric 'content' needs {Path(ctx.s.data) / content.MANIFEST} with the content "
                         "parameters of every validation image (as `i2i make-synthetic` writes)")
    ctx.true_masks = masks
    sources = torch.stack([ctx.val.image(i) for i in range(len(ctx.val))])
    for name, pred in (("source", content.foreground_masks(to_float(sources))),
                       ("centred_disc", content.centred_shape_masks(masks))):
        scores = content.content_scores(pred, masks)
        ctx.references[f"content_iou_{name}"] = scores["iou"].mean().item()
        ctx.references[f"com_error_{name}"] = scores["com_error"].mean().item()


@network("paired_truth")
def _load_paired_truth(ctx) -> None:
    ctx.paired = paired_truth(ctx.val)
    if ctx.paired is None:
        raise ValueError(f"the paired metrics need validation images that share file names across domains "
                         f"(val/<domain>/<name>.png showing one content in every domain); {ctx.s.data}/val does not")
    ctx._val_float = None


@network("glyph_truth")
def _load_glyph_truth(ctx) -> None:
    if not is_glyph_data(ctx.s.data):
        raise ValueError(f"the glyph metrics need a data set written by `i2i make-glyphs` ({ctx.s.data} lacks "
                         "glyphs.json, truth.npz or manifest.csv)")
    ctx.glyph_truth = read_glyph_truth(ctx.s.data, ctx.val.paths, ctx.domains, ctx.translator.img_size)


def _classifier_loader(attribute: str, kind: str, metric: str, chars: bool = False) -> Callable:
    """A loader of the ``kind`` classifier (:mod:`i2i.evaluation.domain_accuracy`, trained once per data set and
    cached) as ``ctx.<attribute>``, with its accuracy on the real validation images as ``<metric>_real_val``."""
    def load(ctx) -> None:
        if chars:
            ctx.need("glyph_truth")
        net, _ = load_or_train_classifier(ctx.s.data, ctx.translator.img_size, ctx.cache_dir, ctx.s.progress, kind,
                                          glyph_chars if chars else None)
        setattr(ctx, attribute, net.to(ctx.translator.device))
        ctx.references[f"{metric}_real_val"] = real_accuracy(net, ctx.val, ctx.glyph_truth.char if chars else None)
    return load


for _attribute, _classifier, _metric in (("classifier", "domain", "domain_acc"),
                                   ("hueblind_classifier", "hueblind", "domain_acc_hueblind"),
                                   ("glyph_style", "glyph_style", "style_acc"),
                                   ("glyph_char", "glyph_char", "char_acc")):
    network(_attribute)(_classifier_loader(_attribute, _classifier, _metric, chars=_classifier == "glyph_char"))


def mean_of_batches(ctx, trg: int, batches: dict[str, list[torch.Tensor]]) -> dict[str, float]:
    """The default reducer: each key's per-sample values concatenated over the task's batches and averaged."""
    return {key: torch.cat([v.flatten() for v in values]).mean().item() for key, values in batches.items()}


@dataclass(frozen=True)
class Metric:
    """One registered metric.

    name : what ``--metrics`` calls it; columns : report key -> (title, better direction, metric network whose
    weights the value depends on, or None); image_sets : which sets it scores, given the EvalSettings;
    networks : the names (:data:`NETWORKS`) of what it needs loaded; default : whether ``i2i eval`` computes it when
    ``--metrics`` is not given (called with the translator and the data root).
    """

    name: str
    score: Callable
    columns: dict[str, tuple[str, str, str | None]]
    image_sets: Callable
    networks: tuple[str, ...] = ()
    reduce: Callable = mean_of_batches
    default: Callable = lambda translator, data: True  # noqa: E731


REGISTRY: dict[str, Metric] = {}


def register(name: str, columns: dict, image_sets, networks: tuple[str, ...] = (), reduce: Callable = mean_of_batches,
             default: Callable | None = None):
    """Decorator: add ``score(ctx, batch: GeneratedBatch) -> dict`` to the registry.

    ``image_sets`` is a tuple of IMAGE_SETS or a function of the EvalSettings returning one.
    """
    sets = image_sets if callable(image_sets) else (lambda settings: image_sets)

    def add(score: Callable) -> Callable:
        extra = {} if default is None else {"default": default}
        REGISTRY[name] = Metric(name, score, columns, sets, networks, reduce, **extra)
        return score
    return add


def columns() -> dict[str, tuple[str, str, str | None]]:
    """Every report column of every metric, in registration order."""
    return {key: spec for metric in REGISTRY.values() for key, spec in metric.columns.items()}


def _fid_reduce(ctx, trg: int, batches: dict[str, list[torch.Tensor]]) -> dict[str, float]:
    fake = FeatureStatistics()
    for features in batches["fid"]:
        fake.add(features)
    return {"fid": ctx.fid(trg, fake)}


@register("fid", {"fid": ("FID", "↓", "inception")}, networks=("inception",), reduce=_fid_reduce,
          image_sets=lambda s: ("inter",) if s.fid_protocol == "interpolation" else ("translations",))
def fid_features(ctx, b: GeneratedBatch):
    """Inception pool3 features of every generated image (FID against the target domain's real images)."""
    return {"fid": inception_features(ctx.inception, to_uint8(b.images.flatten(0, 1)))}


@register("lpips", {"lpips": ("LPIPS", "↑", "lpips")}, image_sets=("translations",), networks=("lpips",))
def lpips_pairs(ctx, b: GeneratedBatch):
    """Mean LPIPS over all pairs of each source's K translations (diversity)."""
    return {"lpips": lpips_diversity(ctx.diversity, b.images)}


@register("ps", {"ps_inter": ("PS inter", "↑", "lpips"), "ps_intra": ("PS intra", "↑", "lpips")},
          image_sets=("inter", "intra"), networks=("lpips",))
def ps_sequences(ctx, b: GeneratedBatch):
    """Perceptual Smoothness of each interpolation sequence, with its alignment and uniformity."""
    return smoothness_terms(f"ps_{b.image_set}", ctx.distance, b.images)


@register("ps_pixel", {"ps_pixel_inter": ("PS pixel inter", "↑", None),
                       "ps_pixel_intra": ("PS pixel intra", "↑", None)},
          image_sets=("inter", "intra"), default=lambda translator, data: is_glyph_data(data))
def ps_pixel_sequences(ctx, b: GeneratedBatch):
    """Perceptual Smoothness with the pixel L1 distance instead of LPIPS (no network), with its two terms."""
    return smoothness_terms(f"ps_pixel_{b.image_set}", PIXEL_DISTANCE, b.images)


def smoothness_terms(name: str, distance, sequences: torch.Tensor) -> dict[str, torch.Tensor]:
    """PS of each sequence (N, F, 3, S, S) under ``distance`` as ``name``, with ``name_alignment`` and
    ``name_uniformity``."""
    value, align, uni = perceptual_smoothness(*sequence_distances(distance, sequences))
    return {name: value, f"{name}_alignment": align, f"{name}_uniformity": uni}


@register("frd", {"frd": ("FRD", "↓", "facenet")}, image_sets=("translations",), networks=("facenet",),
          default=lambda translator, data: translator.cfg.model.w_hpf > 0)
def frd_pairs(ctx, b: GeneratedBatch):
    """Squared L2 between the VGGFace2 embeddings of each source and of each of its translations."""
    emb = face_embeddings(ctx.facenet, b.images.flatten(0, 1)).view(*b.images.shape[:2], -1)
    return {"frd": face_recognition_distance(face_embeddings(ctx.facenet, b.sources), emb)}


@register("content", {"content_iou": ("Content IoU", "↑", None), "com_error": ("Centre err px", "↓", None),
                      "path_iou": ("Path IoU", "↑", None)},
          image_sets=("inter", "translations"), networks=("content_truth",),
          default=lambda translator, data: data is not None and has_manifest(data))
def content_preservation(ctx, b: GeneratedBatch):
    """Foreground IoU and centre error against the sources' true masks (translations), IoU along paths (inter)."""
    scores = ctx.content_scores(b.images, b.index)
    if b.image_set == "inter":
        return {"path_iou": scores["iou"]}
    return {"content_iou": scores["iou"], "com_error": scores["com_error"]}


@register("domain_acc", {"domain_acc": ("Domain acc", "↑", None)}, image_sets=("translations",),
          networks=("classifier",), default=lambda translator, data: not is_glyph_data(data))
def domain_hits(ctx, b: GeneratedBatch):
    """Whether the domain classifier assigns each translation to the target domain."""
    return {"domain_acc": (predict(ctx.classifier, b.images.flatten(0, 1)) == b.trg).float()}


@register("domain_acc_hueblind", {"domain_acc_hueblind": ("Hue-blind domain acc", "↑", None)},
          image_sets=("translations",), networks=("hueblind_classifier",),
          default=lambda translator, data: data is not None and has_manifest(data))
def hue_blind_domain_hits(ctx, b: GeneratedBatch):
    """Whether the hue-blind classifier (pattern and shape only) assigns each translation to the target domain."""
    return {"domain_acc_hueblind": (predict(ctx.hueblind_classifier, b.images.flatten(0, 1)) == b.trg).float()}


@register("style_acc", {"style_acc": ("Style acc", "↑", None)}, image_sets=("translations",),
          networks=("glyph_style",), default=lambda translator, data: is_glyph_data(data))
def style_hits(ctx, b: GeneratedBatch):
    """Whether the glyph style classifier (trained without flips) assigns each translation to the target domain."""
    return {"style_acc": (predict(ctx.glyph_style, b.images.flatten(0, 1)) == b.trg).float()}


@register("char_acc", {"char_acc": ("Char acc", "↑", None)}, image_sets=("translations",),
          networks=("glyph_char", "glyph_truth"), default=lambda translator, data: is_glyph_data(data))
def char_hits(ctx, b: GeneratedBatch):
    """Whether the character classifier recognises each translation as its source's character."""
    chars = ctx.glyph_truth.char[b.index].repeat_interleave(b.images.size(1))
    return {"char_acc": (predict(ctx.glyph_char, b.images.flatten(0, 1)) == chars).float()}


@register("glyph_reference", {"gt_ref_iou": ("Ref GT IoU", "↑", None), "gt_ref_l1": ("Ref GT L1", "↓", None),
                              "gt_ref_iou_source": ("Ref GT IoU of the source", "↑", None),
                              "gt_ref_iou_reference": ("Ref GT IoU of the reference", "↑", None)},
          image_sets=("references",), networks=("glyph_truth",),
          default=lambda translator, data: is_glyph_data(data))
def glyph_reference_truth(ctx, b: GeneratedBatch):
    """Reference-guided translations against the source's character in the reference's typeface, beside the
    source itself and the reference itself scored against the same ground truth."""
    s = reference_scores(ctx.glyph_truth, b.images.cpu(), b.sources.cpu(), b.reference_images.cpu(), b.index,
                         b.reference_index)
    return {"gt_ref_iou": s["iou"], "gt_ref_l1": s["l1"], "gt_ref_iou_source": s["source"],
            "gt_ref_iou_reference": s["reference"]}


@register("glyph_latent", {"gt_nearest_iou": ("Nearest GT IoU", "↑", None),
                           "gt_nearest_iou_source": ("Nearest GT IoU of the source", "↑", None)},
          image_sets=("translations",), networks=("glyph_truth",),
          default=lambda translator, data: is_glyph_data(data))
def glyph_nearest_truth(ctx, b: GeneratedBatch):
    """Latent-guided translations against the nearest of the source's character in the target domain's typefaces,
    beside the source itself."""
    t = ctx.glyph_truth
    return {"gt_nearest_iou": nearest_iou(t, t.ink_masks(b.images.cpu()), b.index, b.trg),
            "gt_nearest_iou_source": nearest_iou(t, t.ink_masks(b.sources.cpu())[:, None], b.index, b.trg)}


@register("glyph_path", {"path_char_acc": ("Path char acc", "↑", None),
                         "path_style_monotone": ("Path style monotone", "↑", None),
                         "path_style_midpoint": ("Path style midpoint", "·", None),
                         "path_style_width": ("Path style 10-90% width", "↑", None)},
          image_sets=("inter",), networks=("glyph_char", "glyph_style", "glyph_truth"),
          default=lambda translator, data: is_glyph_data(data))
def glyph_paths(ctx, b: GeneratedBatch):
    """Along inter-domain paths: the character recognised on every frame; whether the style classifier's
    probability of the target domain rises monotonically; where it crosses one half, and over how much of the
    path it goes from 0.1 to 0.9 (where the change of style bunches up)."""
    n, f = b.images.shape[:2]
    frames = b.images.flatten(0, 1)
    chars = ctx.glyph_truth.char[b.index].repeat_interleave(f)
    p_target = probabilities(ctx.glyph_style, frames)[:, b.trg].view(n, f)
    where = transition(p_target, ctx.alphas)
    return {"path_char_acc": (predict(ctx.glyph_char, frames) == chars).float(),
            "path_style_monotone": rises_monotonically(p_target), "path_style_midpoint": where["midpoint"],
            "path_style_width": where["width"]}


def _paired(data) -> bool:
    return data is not None and is_paired_folder(data)


@register("paired_reference", {f"paired_ref_{d}{who}": (f"Ref GT {d.upper()}{title}", "↑" if d == "ssim" else "↓",
                                                         "lpips" if d == "lpips" else None)
                               for d in ("lpips", "l1", "ssim")
                               for who, title in (("", ""), ("_copy", " of the copy"),
                                                  ("_reference", " of the reference"))},
          image_sets=("references",), networks=("lpips", "paired_truth"),
          default=lambda translator, data: _paired(data))
def paired_reference_truth(ctx, b: GeneratedBatch):
    """Reference-guided translations against the answer, the source's content as the reference's domain draws it
    (``val/<trg>/<source's name>``): LPIPS, L1 and SSIM, beside the copy (the source itself) and the reference
    itself against the same answer. Sources without a partner in the target domain are left out."""
    n, k = b.images.shape[:2]
    answer = ctx.paired.answers(b.index, b.trg)
    keep = answer >= 0
    truth = ctx.val_float(answer[keep])[:, None].expand(-1, k, -1, -1, -1).flatten(0, 1)
    candidates = {"": b.images[keep.to(b.images.device)],
                  "_copy": b.sources[keep.to(b.sources.device)][:, None].expand(-1, k, -1, -1, -1),
                  "_reference": b.reference_images[keep.to(b.reference_images.device)]}
    out = {}
    for who, images in candidates.items():
        for d, value in reference_distances(ctx.lpips_net, images.flatten(0, 1), truth).items():
            out[f"paired_ref_{d}{who}"] = value
    return out


@register("paired_latent", {f"paired_top{k}{who}": (f"GT top-{k}{title}", "↑", None) for k in TOP_K
                            for who, title in (("", ""), ("_copy", " of the copy"))},
          image_sets=("translations",), networks=("paired_truth",), default=lambda translator, data: _paired(data))
def paired_retrieval(ctx, b: GeneratedBatch):
    """Latent-guided translations: is the answer (the source's content in the target domain) among the k
    validation images of the target domain nearest to the translation (pixel L1)? Beside the copy's hits."""
    n, k = b.images.shape[:2]
    gallery = ctx.val.domain_indices(b.trg)
    answer = ctx.paired.answers(b.index, b.trg)
    keep = answer >= 0
    images = ctx.val_float(torch.arange(gallery.start, gallery.stop))
    position = (answer[keep] - gallery.start).to(images.device)
    hits = retrieval_hits(b.images[keep.to(b.images.device)].flatten(0, 1).to(images.device), images,
                          position.repeat_interleave(k))
    copy = retrieval_hits(b.sources[keep.to(b.sources.device)].to(images.device), images, position)
    return {**{f"paired_top{t}": v for t, v in hits.items()}, **{f"paired_top{t}_copy": v for t, v in copy.items()}}


def has_manifest(data) -> bool:
    """Whether a data root holds the content manifest that the content metrics need."""
    return read_manifest(data) is not None
