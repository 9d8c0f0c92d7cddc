"""``i2i make-synthetic``: the procedural multi-domain dataset with its content manifest."""
from __future__ import annotations

from i2i.cli.common import MAX_SEED, bounded


def add_parser(sub):
    p = sub.add_parser("make-synthetic", help="generate the procedural multi-domain demo dataset")
    p.add_argument("--out", required=True, help="output folder (must be empty; gets train/ and val/ in StarGAN v2 "
                                                "layout)")
    p.add_argument("--num-train", type=bounded(int, 1, 10**6), default=200, help="training images per domain")
    p.add_argument("--num-val", type=bounded(int, 1, 10**6), default=32, help="validation images per domain")
    p.add_argument("--size", type=bounded(int, 8, 4096), default=64, help="image side in pixels")
    p.add_argument("--seed", type=bounded(int, 0, MAX_SEED), default=0)
    p.add_argument("--overwrite", action="store_true", help="empty a non-empty --out first")
    return p


def run(args) -> int:
    from i2i.data import make_synthetic

    out = make_synthetic(args.out, num_train=args.num_train, num_val=args.num_val, size=args.size, seed=args.seed,
                         overwrite=args.overwrite)
    print(f"wrote synthetic dataset to {out} (manifest: {out / 'manifest.csv'})")
    return 0
