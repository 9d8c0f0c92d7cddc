"""``i2i probe-d``: does the training discriminator tell real images from other domains' images recoloured to them?"""
from __future__ import annotations

from .common import MAX_SEED, add_checkpoint, add_overwrite, bounded, check_outputs


def add_parser(sub):
    p = sub.add_parser("probe-d", help="p(real) the discriminator gives real images vs other domains' images "
                                       "recoloured to the domain (does D look past colour?)")
    add_checkpoint(p)
    p.add_argument("--data", required=True, help="dataset root in StarGAN v2 layout")
    p.add_argument("--split", choices=["train", "val"], default="val")
    p.add_argument("--seed", type=bounded(int, 0, MAX_SEED), default=0, help="draws the hue references")
    p.add_argument("--out", help="also write the result as JSON here")
    add_overwrite(p)
    return p


def run(args) -> int:
    from pathlib import Path

    import torch

    from i2i.experiments.discriminator_probe import probe_discriminator, probe_table

    from ..data.dataset import DomainImages
    from ..inference import Translator
    from ..models import build_networks
    from ..rundir import NETS_FILE, load_flat_state, read_weights, write_json

    if args.out:
        check_outputs([args.out], args.overwrite)
    translator = Translator.load(args.checkpoint, args.device)  # the EMA networks translate
    weights = Path(translator.source).parent / NETS_FILE  # the training networks, D among them, beside them
    nets = build_networks(translator.cfg.model, translator.num_domains)
    load_flat_state(nets, read_weights(weights), str(weights))
    images = DomainImages(args.data, args.split, translator.img_size, progress=False)
    if images.domains != translator.domains:
        raise ValueError(f"{args.data}/{args.split} has domains {images.domains}, the model was trained on "
                         f"{translator.domains}")
    g = torch.Generator().manual_seed(args.seed)

    def translate(x: torch.Tensor, label: int) -> torch.Tensor:  # one latent style per source, EMA networks
        styles = translator.latent_styles(torch.full((len(x), 1), label), g)
        return translator.decode_many(x, styles)[:, 0]

    result = probe_discriminator(nets.discriminator.eval().to(translator.device), images, args.seed,
                                 translate=translate)
    print(f"discriminator of {weights} on {args.data}/{args.split}:\n{probe_table(result)}")
    if args.out:
        write_json(args.out, {"checkpoint": str(weights), "data": args.data,
                              "split": args.split, "seed": args.seed, "p_real": result})
    return 0
