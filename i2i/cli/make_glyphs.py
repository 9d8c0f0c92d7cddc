"""``i2i make-glyphs``: characters rendered from real typefaces, domains by weight and slant, with ground truth."""
from __future__ import annotations

from i2i.cli.common import MAX_SEED, bounded, comma_list


def add_parser(sub):
    from i2i.data.glyphs import DEFAULT_CHARS, DEFAULT_STYLES, DOMAIN_KINDS

    p = sub.add_parser("make-glyphs", help="render a glyph dataset from real typefaces (style is shape), with "
                                           "paired ground truth")
    p.add_argument("--out", required=True, help="output folder (must be empty; gets train/ and val/ in StarGAN v2 "
                                                "layout, manifest.csv, glyphs.json, truth.npz)")
    p.add_argument("--fonts", nargs="+", metavar="DIR_OR_FILE",
                   help="font files or folders (.ttf .otf .ttc); default: the DejaVu families every Debian machine "
                        "has (or matplotlib's copy)")
    p.add_argument("--chars", default=DEFAULT_CHARS, help="characters to draw (default: %(default)s)")
    p.add_argument("--size", type=bounded(int, 16, 1024), default=32, help="image side in pixels")
    p.add_argument("--num-train", type=bounded(int, 1, 10**6), default=400, help="training images per domain")
    p.add_argument("--num-val", type=bounded(int, 1, 10**6), default=64, help="validation images per domain")
    p.add_argument("--seed", type=bounded(int, 0, MAX_SEED), default=0)
    p.add_argument("--domains", choices=DOMAIN_KINDS, default="style",
                   help="style: one domain per weight/slant class, families vary inside; family: one per family")
    p.add_argument("--styles", default=",".join(DEFAULT_STYLES),
                   help="style classes to use (light, regular, bold, italic, light_italic, bold_italic; "
                        "default %(default)s)")
    p.add_argument("--overwrite", action="store_true", help="empty a non-empty --out first")
    return p


def run(args) -> int:
    from i2i.data.glyphs import make_glyphs

    styles = comma_list(args.styles)
    if not styles:
        raise ValueError("--styles needs at least one style class")
    out = make_glyphs(args.out, fonts=args.fonts, chars=args.chars, size=args.size, num_train=args.num_train,
                      num_val=args.num_val, seed=args.seed, domains=args.domains, styles=styles,
                      overwrite=args.overwrite)
    print(f"wrote glyph dataset to {out} (manifest.csv, glyphs.json, ground truth in truth.npz)")
    return 0
