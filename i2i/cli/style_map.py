"""``i2i style-map``: the style space in 2-D (PCA), per domain, with an interpolation path drawn on it."""
from __future__ import annotations

from i2i.cli.common import MAX_SEED, add_checkpoint, add_overwrite, bounded, check_outputs, parse_style


def add_parser(sub):
    p = sub.add_parser("style-map", help="PNG of the style space (2-D PCA per domain) with an interpolation path")
    add_checkpoint(p)
    p.add_argument("--data", help="dataset root: also project the style-encoder codes of its val/ images")
    p.add_argument("--per-domain", type=bounded(int, 2, 100000), default=1000,
                   help="mapping-network codes per domain (default 1000)")
    p.add_argument("--from", dest="start", metavar="DOMAIN[:SEED|=REF_IMG]", help="start style of the drawn path")
    p.add_argument("--to", dest="end", metavar="DOMAIN[:SEED|=REF_IMG]", help="end style of the drawn path")
    p.add_argument("--steps", type=bounded(int, 2, 200), default=20, help="frames of the drawn path")
    p.add_argument("--seed", type=bounded(int, 0, MAX_SEED), default=0)
    p.add_argument("--out", required=True, help="map.png")
    add_overwrite(p)
    return p


def run(args) -> int:
    import torch

    from i2i.data.dataset import DomainImages
    from i2i.inference import Translator, lerp_styles
    from i2i.style_space import draw_style_map, fit_pca, style_codes

    if (args.start is None) != (args.end is None):
        raise ValueError("give both --from and --to to draw a path, or neither")
    check_outputs([args.out], args.overwrite)
    translator = Translator.load(args.checkpoint, args.device)
    images = DomainImages(args.data, "val", translator.img_size, progress=False) if args.data else None
    codes, labels, encoded = style_codes(translator, args.per_domain, images, args.seed)
    project = fit_pca(codes)
    path = None
    if args.start is not None:
        s0, s1 = (translator.style(parse_style(t)).cpu()[None] for t in (args.start, args.end))
        path = project(lerp_styles(s0, s1, torch.linspace(0, 1, args.steps))[0])
    img = draw_style_map(project(codes), labels, encoded, translator.domains, path)
    img.save(args.out)
    print(f"style map of {len(codes)} codes ({', '.join(translator.domains)}): {args.out}")
    return 0
