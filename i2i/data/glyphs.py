"""Glyphs rendered from real typefaces: a multi-domain data set whose style is shape, with exact ground truth.

Content (the same distribution in every domain): the character, its size (em, in pixels) and the offset of its
ink box's centre from the image centre. Style: the typeface. By default the domains are style classes read from
each font's own tables (``OS/2.usWeightClass`` for the weight; the ``OS/2.fsSelection`` italic and oblique bits,
``head.macStyle`` and ``post.italicAngle`` for the slant), and the families (``name`` ID 1, which a style-linked
family's regular, bold, italic and bold italic share) are the variation inside a domain; ``domains="family"``
makes each family a domain instead. Every image is grey ink on a dark ground, the same two levels everywhere, so
colour tells no domain apart.

Besides ``manifest.csv`` (every image's content and style) and ``glyphs.json`` (the settings and the typefaces),
the generator writes ``truth.npz``: every validation image's content drawn in *every* typeface of the data set.
That is the paired ground truth an unpaired translation can be scored against: the source's character in the
reference's typeface at the source's size and place. Metrics read these files, never this module.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from i2i.data.output import staged_output_dir, write_manifest

log = logging.getLogger(__name__)

FONT_EXTENSIONS = (".ttf", ".otf", ".ttc", ".otc")
# No pair that only size tells apart (O/o/0, S/s, C/c ...), nor I/l/1: the content of every image is recognisable
DEFAULT_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZabdefghmnqrty2345678"
DEFAULT_STYLES = ("regular", "bold", "italic")
STYLE_CLASSES = ("light", "regular", "bold", "italic", "light_italic", "bold_italic")  # Typeface.style's values
DOMAIN_KINDS = ("style", "family")
INK, GROUND = 0.9, 0.1  # grey levels of the glyph and of the ground, in [0, 1]
EM_RANGE = (0.5, 0.75)  # em size as a fraction of the image side
OFFSET_RANGE = 0.06  # largest offset of the ink box's centre from the image centre, as a fraction of the side
SUPERSAMPLE = 4  # glyphs are drawn at 4x and box-filtered: anti-aliased, placed to a quarter pixel
GLYPHS_FILE, TRUTH_FILE = "glyphs.json", "truth.npz"


@dataclass(frozen=True)
class Typeface:
    """One face of a font file, as its own tables describe it."""

    path: str
    index: int  # face number inside a collection (.ttc); 0 for a single font
    family: str  # name ID 1: the family a regular, bold, italic and bold italic are linked by
    subfamily: str  # name ID 2 (Regular, Bold, Oblique, ...)
    weight: int  # OS/2 usWeightClass (400 regular, 700 bold)
    italic_angle: float  # post.italicAngle in degrees (negative: leaning right)
    italic: bool  # the fsSelection italic or oblique bit, the macStyle italic bit, or a non-zero italic angle
    codepoints: frozenset = field(default=frozenset(), repr=False, compare=False)

    @property
    def style(self) -> str:
        """``light``, ``regular`` or ``bold`` by weight class (up to 350, 351-549, from 550), with ``italic``
        for a slanted face: ``italic`` (regular weight), ``bold_italic``, ``light_italic``."""
        weight = "light" if self.weight <= 350 else "bold" if self.weight >= 550 else "regular"
        if not self.italic:
            return weight
        return "italic" if weight == "regular" else f"{weight}_italic"

    def describe(self) -> dict:
        """The face as a JSON-able dict (without its character set)."""
        return {**{k: v for k, v in asdict(self).items() if k != "codepoints"}, "style": self.style}


def _face_from_font(font, path: Path, index: int) -> Typeface:
    name = font["name"] if "name" in font else None
    family = (name.getDebugName(1) if name else None) or path.stem
    subfamily = (name.getDebugName(2) if name else None) or ""
    mac_style = font["head"].macStyle if "head" in font else 0
    angle = float(font["post"].italicAngle) if "post" in font else 0.0
    if "OS/2" in font:
        os2 = font["OS/2"]
        weight = os2.usWeightClass * (100 if 0 < os2.usWeightClass < 10 else 1)  # a few old fonts use 1-9
        slanted = bool(os2.fsSelection & 0b1) or bool(os2.fsSelection & (1 << 9))
    else:
        weight, slanted = (700 if mac_style & 0b1 else 400), False
    cmap = font.getBestCmap() or {}
    return Typeface(str(path), index, family, subfamily, weight, angle,
                    slanted or bool(mac_style & 0b10) or abs(angle) > 0.5, frozenset(cmap))


def read_typefaces(path: str | Path) -> list[Typeface]:
    """The faces of one font file (several for a collection); an unreadable file gives a logged skip and []."""
    from fontTools.ttLib import TTCollection, TTFont

    path = Path(path)
    try:
        if path.suffix.lower() in (".ttc", ".otc"):
            fonts = TTCollection(str(path), lazy=True).fonts
        else:
            fonts = [TTFont(str(path), lazy=True)]
        return [_face_from_font(font, path, i) for i, font in enumerate(fonts)]
    except Exception as err:  # fontTools raises many types for files that are not fonts
        log.warning("skipping %s: not a readable font (%s: %s)", path, type(err).__name__, err)
        return []


def default_font_dirs() -> list[Path]:
    """Folders holding the DejaVu families: Debian's fonts-dejavu-core, then matplotlib's copy (when installed)."""
    dirs = [Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu")]
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin:
        dirs.append(Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf")
    return [d for d in dirs if d.is_dir()]


def find_typefaces(sources: list[str | Path] | None = None) -> list[Typeface]:
    """Every face of the font files given (files or folders, searched recursively); by default the DejaVu
    families of :func:`default_font_dirs`. A face whose family, weight and slant an earlier file already gave is
    a duplicate (Debian's and matplotlib's copies of one font, a family shipped as .otf and .ttf) and is left out."""
    default = not sources
    paths: list[Path] = []
    for source in sources or default_font_dirs():
        source = Path(source)
        if source.is_dir():
            paths += sorted(p for p in source.rglob("*") if p.suffix.lower() in FONT_EXTENSIONS)
        elif source.is_file():
            paths.append(source)
        elif source.exists():
            raise ValueError(f"--fonts {source} is neither a font file nor a folder")
        else:
            raise FileNotFoundError(f"--fonts {source} does not exist")
    if not paths:
        where = ", ".join(str(s) for s in sources) if sources else "the default font folders (DejaVu)"
        raise FileNotFoundError(f"no font file ({', '.join(FONT_EXTENSIONS)}) in {where}: pass --fonts DIR_OR_FILE "
                                "(on Debian: apt-get install fonts-dejavu-core)")
    faces, seen = [], set()
    for path in paths:
        for face in read_typefaces(path):
            key = (face.family, face.weight, face.italic)  # from the tables: some fonts misname their subfamily
            if key in seen or (default and not face.family.startswith("DejaVu")):
                continue
            seen.add(key)
            faces.append(face)
    return faces


def folder_name(text: str) -> str:
    """A domain folder name: lower case, runs of anything but letters, digits and '-' turned into '_'."""
    return re.sub(r"[^a-z0-9-]+", "_", text.lower()).strip("_") or "domain"


def group_faces(faces: list[Typeface], domains: str = "style",
                styles: tuple[str, ...] = DEFAULT_STYLES) -> dict[str, list[Typeface]]:
    """Domain name -> its typefaces (sorted by family).

    ``domains="style"``: one domain per style class of ``styles``, holding the families that have a face of
    *every* one of them (an incomplete family would make the domains differ in more than style; it is a logged
    skip). ``domains="family"``: one domain per family, holding its faces of the ``styles`` classes.
    """
    if domains not in DOMAIN_KINDS:
        raise ValueError(f"--domains must be one of {', '.join(DOMAIN_KINDS)}, got {domains!r}")
    by_family: dict[str, dict[str, Typeface]] = {}
    for face in faces:
        if face.style in styles:
            by_family.setdefault(face.family, {}).setdefault(face.style, face)
    if domains == "family":
        groups = {folder_name(family): sorted(members.values(), key=lambda f: styles.index(f.style))
                  for family, members in sorted(by_family.items())}
    else:
        complete = {family: members for family, members in sorted(by_family.items()) if set(members) == set(styles)}
        for family in sorted(set(by_family) - set(complete)):
            log.info("family %s left out: it has %s of the styles %s", family,
                     ", ".join(sorted(by_family[family])), ", ".join(styles))
        groups = {style: [members[style] for members in complete.values()] for style in styles}
    if len(groups) < 2 or not all(groups.values()):
        found = ", ".join(f"{f.family} {f.style}" for f in faces) or "none"
        raise ValueError(f"the fonts give {len([g for g in groups.values() if g])} usable domain(s) by {domains} "
                         f"with styles {', '.join(styles)}; two are needed (faces found: {found})")
    return groups


def usable_chars(chars: str, faces: list[Typeface]) -> str:
    """``chars`` without duplicates and without those that some face has no glyph for (logged)."""
    kept = "".join(dict.fromkeys(c for c in chars if not c.isspace()))
    missing = {c for c in kept for f in faces if ord(c) not in f.codepoints}
    if missing:
        log.warning("characters %s left out: some typefaces have no glyph for them", "".join(sorted(missing)))
    kept = "".join(c for c in kept if c not in missing)
    if not kept:
        raise ValueError(f"none of the characters {chars!r} is drawn by every typeface")
    return kept


class GlyphRenderer:
    """Draw characters as anti-aliased ink coverage (S, S) in [0, 1]: 4x supersampled, box-filtered, with the
    centre of the glyph's ink box placed at the image centre plus an offset (to a quarter pixel)."""

    def __init__(self, img_size: int):
        self.img_size = img_size
        self._fonts: dict[tuple, ImageFont.FreeTypeFont] = {}

    def _font(self, face: Typeface, em: float) -> ImageFont.FreeTypeFont:
        key = (face.path, face.index, max(1, round(em * SUPERSAMPLE)))
        if key not in self._fonts:
            self._fonts[key] = ImageFont.truetype(face.path, key[2], index=face.index,
                                                  layout_engine=ImageFont.Layout.BASIC)
        return self._fonts[key]

    def coverage(self, face: Typeface, char: str, em: float, dx: float, dy: float) -> np.ndarray:
        """Ink coverage of ``char`` in ``face`` at ``em`` pixels per em, ink box centred at (S/2 + dx, S/2 + dy)."""
        side = self.img_size * SUPERSAMPLE
        canvas = Image.new("L", (2 * side, 2 * side), 0)
        try:
            ImageDraw.Draw(canvas).text((side, side), char, font=self._font(face, em), fill=255, anchor="mm")
        except (OSError, ValueError) as err:  # FreeType's errors for broken tables name no file
            raise ValueError(f"{face.path} (face {face.index}, {face.family} {face.style}) cannot draw {char!r}: "
                             f"{err}") from None
        ys, xs = np.nonzero(np.asarray(canvas))
        if ys.size == 0:
            raise ValueError(f"{face.path} draws nothing for {char!r}")
        centre_x, centre_y = (xs.min() + xs.max() + 1) / 2, (ys.min() + ys.max() + 1) / 2
        left = int(round(centre_x - side / 2 - dx * SUPERSAMPLE))
        top = int(round(centre_y - side / 2 - dy * SUPERSAMPLE))
        window = np.asarray(canvas.crop((left, top, left + side, top + side)), dtype=np.float32)
        s = self.img_size
        return window.reshape(s, SUPERSAMPLE, s, SUPERSAMPLE).mean((1, 3)) / 255.0


def glyph_image(coverage: np.ndarray) -> np.ndarray:
    """Ink coverage (S, S) -> grey ink on a dark ground, (S, S, 3) uint8."""
    level = GROUND + (INK - GROUND) * coverage
    return np.repeat((level * 255 + 0.5).astype(np.uint8)[..., None], 3, axis=-1)


def make_glyphs(out: str | Path, fonts: list[str | Path] | None = None, chars: str = DEFAULT_CHARS, size: int = 32,
                num_train: int = 400, num_val: int = 64, seed: int = 0, domains: str = "style",
                styles: tuple[str, ...] = DEFAULT_STYLES, overwrite: bool = False) -> Path:
    """Write ``out/{train,val}/<domain>/*.png``, ``manifest.csv``, ``glyphs.json`` and ``truth.npz``.

    Deterministic for ``seed`` (and the fonts; FreeType versions may differ by a grey level at edges). Each image
    draws its character, em size, offset and the typeface among its domain's with one generator. A non-empty
    ``out`` is refused unless ``overwrite`` (which replaces it once the new data set is complete); a failure leaves
    no partial ``out``.
    """
    unknown = [s for s in styles if s not in STYLE_CLASSES]
    if unknown:
        raise ValueError(f"--styles: unknown style class {', '.join(map(repr, unknown))} (known: "
                         f"{', '.join(STYLE_CLASSES)})")
    groups = group_faces(find_typefaces(fonts), domains, tuple(styles))
    faces = [face for members in groups.values() for face in members]
    chars = usable_chars(chars, faces)
    final = Path(out)
    with staged_output_dir(final, overwrite) as out:  # no partial --out when a step fails
        renderer, rng = GlyphRenderer(size), np.random.default_rng(seed)
        face_ids = {face: i for i, face in enumerate(faces)}
        rows, val_content = [], []
        for split, count in (("train", num_train), ("val", num_val)):
            for domain, members in groups.items():
                folder = out / split / domain
                folder.mkdir(parents=True)
                for i in range(count):
                    char = chars[rng.integers(len(chars))]
                    em = float(rng.uniform(*EM_RANGE) * size)
                    dx, dy = (float(v) for v in rng.uniform(-OFFSET_RANGE, OFFSET_RANGE, 2) * size)
                    face = members[rng.integers(len(members))]
                    name = f"{domain}_{i:05d}.png"
                    Image.fromarray(glyph_image(renderer.coverage(face, char, em, dx, dy))).save(folder / name)
                    rows.append({"split": split, "domain": domain, "file": f"{split}/{domain}/{name}", "char": char,
                                 "em": round(em, 4), "dx": round(dx, 4), "dy": round(dy, 4), "font": face_ids[face],
                                 "family": face.family, "style": face.style, "weight": face.weight,
                                 "italic_angle": face.italic_angle})
                    if split == "val":
                        val_content.append((rows[-1]["file"], char, em, dx, dy))
        write_manifest(rows, out)
        truth = np.stack([np.stack([renderer.coverage(face, char, em, dx, dy) for face in faces])
                          for _, char, em, dx, dy in val_content])
        np.savez_compressed(out / TRUTH_FILE, files=np.array([v[0] for v in val_content]),
                            coverage=(truth * 255 + 0.5).astype(np.uint8))
        meta = {"generator": "glyphs", "seed": seed, "size": size, "num_train": num_train, "num_val": num_val,
                "chars": chars, "domains_by": domains, "styles": list(styles), "domains": list(groups),
                "ink": INK, "ground": GROUND, "fonts": [dict(face.describe(), domain=domain)
                                                        for domain, members in groups.items() for face in members],
                "content_params": ["char", "em", "dx", "dy"], "style_params": ["font", "family", "style"]}
        (out / GLYPHS_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return final
