"""A procedural multi-domain dataset whose content and domain style are independent, with a manifest.

Content (domain-independent, same distribution in every domain): shape kind, centre, size, rotation.
Style: each domain has its own texture family and hue range; within a domain the hue, saturation,
texture frequency and texture orientation vary continuously.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from i2i.data.output import staged_output_dir, write_manifest

SHAPES = ("ellipse", "square", "triangle", "cross")  # drawn by make_synthetic
MASK_SHAPES = SHAPES + ("circle",)  # every shape shape_mask renders (manifests of other generators)


@dataclass(frozen=True)
class DomainStyle:
    """One domain: a texture family and a hue interval (fractions of the colour wheel)."""

    name: str
    texture: str
    hue_range: tuple[float, float]


DOMAINS = (
    DomainStyle("stripes", "stripes", (-0.06, 0.08)),  # reds/oranges
    DomainStyle("checks", "checks", (0.22, 0.40)),  # greens
    DomainStyle("dots", "dots", (0.55, 0.72)),  # blues
)


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    h = np.mod(h, 1.0)
    k = np.stack([(5 + h * 6) % 6, (3 + h * 6) % 6, (1 + h * 6) % 6], axis=-1)
    return v[..., None] - v[..., None] * s[..., None] * np.clip(np.minimum(k, 4 - k), 0, 1)


def sample_content(rng: np.random.Generator) -> dict:
    """Draw content parameters: shape kind, centre (cx, cy in [0,1]), size (fraction), angle (rad)."""
    return {"shape": SHAPES[rng.integers(len(SHAPES))], "cx": float(rng.uniform(0.3, 0.7)),
            "cy": float(rng.uniform(0.3, 0.7)), "size": float(rng.uniform(0.2, 0.34)),
            "angle": float(rng.uniform(0, 2 * np.pi))}


def sample_style(domain: DomainStyle, rng: np.random.Generator) -> dict:
    """Draw continuous within-domain style parameters."""
    return {"hue": float(rng.uniform(*domain.hue_range) % 1.0), "saturation": float(rng.uniform(0.55, 0.95)),
            "frequency": float(rng.uniform(3.0, 7.0)), "texture_angle": float(rng.uniform(0, np.pi))}


def _texture(pattern: str, u: np.ndarray, v: np.ndarray, freq: float) -> np.ndarray:
    if pattern == "stripes":
        return 0.5 + 0.5 * np.sin(2 * np.pi * freq * u)
    if pattern == "checks":
        return 0.5 + 0.5 * np.tanh(6 * np.sin(2 * np.pi * freq * u) * np.sin(2 * np.pi * freq * v))
    if pattern == "dots":
        r = np.hypot(np.sin(np.pi * freq * u), np.sin(np.pi * freq * v))
        return 1.0 / (1.0 + np.exp(12 * (r - 0.6)))
    raise ValueError(f"unknown texture {pattern!r}")


def shape_mask(content: dict, size: int) -> np.ndarray:
    """The (size, size) float foreground coverage in [0, 1] of one content draw (about one pixel of
    anti-aliasing): the ground truth that content metrics compare translations with."""
    coords = (np.arange(size) + 0.5) / size
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    c, s = np.cos(content["angle"]), np.sin(content["angle"])
    du, dv = xx - content["cx"], yy - content["cy"]
    pu, pv = c * du + s * dv, -s * du + c * dv
    r = content["size"]
    if content["shape"] == "ellipse":
        signed = 1.0 - np.hypot(pu / r, pv / (0.65 * r))
    elif content["shape"] == "square":
        signed = 1.0 - np.maximum(np.abs(pu) / r, np.abs(pv) / r)
    elif content["shape"] == "circle":
        signed = 1.0 - np.hypot(pu, pv) / r
    elif content["shape"] == "cross":  # union of two bars of half-width 0.35 r
        w = 0.35 * r
        signed = np.maximum(np.minimum(r - np.abs(pu), w - np.abs(pv)), np.minimum(w - np.abs(pu), r - np.abs(pv))) / r
    elif content["shape"] == "triangle":  # intersection of three half-planes
        normals = [(np.cos(a), np.sin(a)) for a in (np.pi / 2, np.pi / 2 + 2 * np.pi / 3, np.pi / 2 + 4 * np.pi / 3)]
        signed = np.min([1.0 - (nu * pu + nv * pv) / (0.5 * r) for nu, nv in normals], axis=0)
    else:
        raise ValueError(f"unknown shape {content['shape']!r}: expected one of {', '.join(MASK_SHAPES)}")
    return np.clip(signed * r * size + 0.5, 0.0, 1.0)


def render(content: dict, style: dict, texture: str, size: int) -> np.ndarray:
    """Render one (size, size, 3) uint8 image."""
    coords = (np.arange(size) + 0.5) / size
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    mask = shape_mask(content, size)
    ta, tb = np.cos(style["texture_angle"]), np.sin(style["texture_angle"])
    tex = _texture(texture, ta * xx + tb * yy, -tb * xx + ta * yy, style["frequency"])
    hue = np.full_like(xx, style["hue"])
    fg = _hsv_to_rgb(hue, np.full_like(xx, style["saturation"]), 0.45 + 0.55 * tex)
    bg = _hsv_to_rgb(hue, np.full_like(xx, 0.3 * style["saturation"]), 0.18 + 0.2 * yy)
    img = mask[..., None] * fg + (1 - mask[..., None]) * bg
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def make_synthetic(out: str | Path, num_train: int = 200, num_val: int = 32, size: int = 64,
                   seed: int = 0, domains: tuple[DomainStyle, ...] = DOMAINS, overwrite: bool = False) -> Path:
    """Write ``out/{train,val}/<domain>/*.png``, ``out/manifest.csv`` and ``out/synthetic.json`` (generator settings).

    Deterministic for ``seed``. The manifest has one row per image with its split, domain, file and
    every content and style parameter, so content preservation can be checked against ground truth.
    """
    final = Path(out)
    with staged_output_dir(final, overwrite) as out:  # no partial --out when a step fails
        rng = np.random.default_rng(seed)
        rows = []
        for split, count in (("train", num_train), ("val", num_val)):
            for domain in domains:
                folder = out / split / domain.name
                folder.mkdir(parents=True, exist_ok=True)
                for i in range(count):
                    content, style = sample_content(rng), sample_style(domain, rng)
                    name = f"{domain.name}_{i:05d}.png"
                    Image.fromarray(render(content, style, domain.texture, size)).save(folder / name)
                    rows.append({"split": split, "domain": domain.name, "file": f"{split}/{domain.name}/{name}",
                                 **content, **style})
        write_manifest(rows, out)
        meta = {"seed": seed, "size": size, "num_train": num_train, "num_val": num_val,
                "domains": [asdict(d) for d in domains],
                "content_params": ["shape", "cx", "cy", "size", "angle"],
                "style_params": ["hue", "saturation", "frequency", "texture_angle"]}
        (out / "synthetic.json").write_text(json.dumps(meta, indent=2))
    return final
