"""``i2i convert``: a released StarGAN v2 (or the paper's) checkpoint as an i2i run directory."""
from __future__ import annotations

from i2i.cli.common import comma_list


def add_parser(sub):
    p = sub.add_parser("convert", help="turn a released StarGAN v2 (or the paper's) checkpoint into a run directory")
    p.add_argument("--from", dest="format", choices=["stargan-v2"], required=True, help="checkpoint format")
    p.add_argument("checkpoint", help="{step}_nets_ema.ckpt (a sibling {step}_nets.ckpt adds D) or {step}_nets.ckpt")
    p.add_argument("--wing", help="FAN weights wing.ckpt (needed by face models, w_hpf > 0)")
    p.add_argument("--out", required=True, help="new run directory")
    p.add_argument("--domains", help="comma list of domain names in label order (default: the released "
                   "models' female,male / cat,dog,wild when the shapes match, else domain0,...)")
    return p


def run(args) -> int:
    from i2i.convert import convert_stargan_v2

    out = convert_stargan_v2(args.checkpoint, args.out, wing=args.wing, domains=comma_list(args.domains))
    print(f"run directory: {out} (try: i2i app --checkpoint {out})")
    return 0
