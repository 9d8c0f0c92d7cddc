"""``i2i ablate``: the paper's Table 4, every loss variant trained and evaluated with the same seeds."""
from __future__ import annotations

from pathlib import Path

from i2i.cli.common import add_metric_weights, add_overrides, add_progress, bounded, comma_list


def add_parser(sub):
    p = sub.add_parser("ablate", help="the paper's ablation (Table 4): train and evaluate each loss variant")
    p.add_argument("--config", required=True, help="YAML config every variant starts from")
    p.add_argument("--out", required=True, help="folder: one run per variant and seed, ablation.{md,json,png}")
    p.add_argument("--variants", help="comma list from baseline,tri,sr,tri_sr,full (default: all five)")
    p.add_argument("--seeds", type=bounded(int, 1, 100), default=3, help="seeds per variant (train.seed + 0, 1, ...)")
    add_overrides(p, "config override for every variant")
    p.add_argument("--metrics", help="comma list of eval metrics (default: fid,lpips,ps,content,domain_acc; on glyph "
                                      "data ps,ps_pixel,style_acc,char_acc,glyph_reference,glyph_latent,glyph_path)")
    p.add_argument("--num-sources", type=bounded(int, 1, 10**7), default=16,
                   help="validation sources per domain in the evaluation")
    p.add_argument("--steps", type=bounded(int, 2, 200), default=10, help="frames per interpolation in the evaluation")
    p.add_argument("--num-outs", type=bounded(int, 2, 1000), default=4,
                   help="translations per source in the evaluation")
    add_metric_weights(p)
    p.add_argument("--device", default="auto")
    add_progress(p)
    return p


def run(args) -> int:
    from i2i.evaluation import EvalSettings
    from i2i.experiments.ablate import VARIANTS, ablate

    variants = list(comma_list(args.variants) or VARIANTS)
    settings = EvalSettings(checkpoint="", data="", metrics=comma_list(args.metrics),
                            num_sources=args.num_sources, steps=args.steps, num_outs=args.num_outs,
                            weights_dir=args.weights_dir, random_weights=args.random_weights, device=args.device)
    result = ablate(args.config, args.out, variants, args.seeds, args.set, settings.validate(),
                    progress=not args.no_progress)
    print((Path(args.out) / "ablation.md").read_text())
    print(f"table: {Path(args.out) / 'ablation.json'}, strip: {result['strip']}")
    return 0
