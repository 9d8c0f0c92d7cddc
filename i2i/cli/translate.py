"""``i2i translate``: translate images to a domain under a seed or reference style, or write a grid."""
from __future__ import annotations

from pathlib import Path

from i2i.cli.common import (MAX_SEED, add_align_faces, add_backend, add_checkpoint, add_overwrite, bounded,
                            check_outputs, input_images, load_inputs, output_names)


def add_parser(sub):
    p = sub.add_parser("translate", help="translate images to a domain (seed or reference style), or a grid")
    add_checkpoint(p)
    add_backend(p)
    p.add_argument("--input", required=True, help="an image or a folder of images")
    p.add_argument("--domain", required=True, help="target domain name")
    p.add_argument("--reference", action="append", default=[], help="reference image (repeat for --grid columns)")
    p.add_argument("--seed", type=bounded(int, 0, MAX_SEED), default=0,
                   help="mapping-network seed when no reference is given")
    p.add_argument("--grid", action="store_true", help="one PNG: sources x references (or x seeds)")
    p.add_argument("--grid-seeds", type=bounded(int, 1, 64), default=4, help="columns of a grid without references")
    p.add_argument("--out", required=True, help="output folder (or .png file for --grid)")
    add_align_faces(p)
    add_overwrite(p)
    return p


def run(args) -> int:
    import re

    from PIL import Image

    from i2i.inference import StyleSpec, Translator
    from i2i.media import grid_image, save_png

    translator = Translator.load(args.checkpoint, args.device, args.backend)
    files = input_images(args.input)
    inputs = load_inputs(files, args.align_faces, translator.img_size)
    out = Path(args.out)
    domain = re.sub(r"[^\w.-]+", "_", translator.domain_name(args.domain))  # a name, safe in a file name
    if args.grid:
        specs = [StyleSpec(args.domain, reference=r) for r in args.reference] or \
            [StyleSpec(args.domain, seed=args.seed + k) for k in range(args.grid_seeds)]
        path = out if out.suffix == ".png" else out / f"grid_{domain}.png"
        check_outputs([path], args.overwrite)
        cells = translator.translation_grid(inputs, specs)
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(grid_image(cells, ncol=len(specs) + 1)).save(path)
        print(f"grid ({len(files)} sources x {len(specs)} styles): {path}")
        return 0
    if len(args.reference) > 1:
        raise ValueError("one --reference per translation; pass several only with --grid")
    spec = StyleSpec(args.domain, seed=args.seed, reference=args.reference[0] if args.reference else None)
    paths = [out / name for name in output_names(files, f"_to_{domain}.png")]
    check_outputs(paths, args.overwrite)
    images = translator.translate(inputs, spec)
    out.mkdir(parents=True, exist_ok=True)
    for path, image in zip(paths, images):
        save_png(image, path)
    print(f"wrote {len(files)} translation(s) to {out}")
    return 0
