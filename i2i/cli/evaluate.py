"""``i2i eval``: the paper's metrics (and content / domain accuracy) of a trained model, as a report."""
from __future__ import annotations

from pathlib import Path

from i2i.cli.common import (MAX_SEED, add_checkpoint, add_metric_weights, add_overwrite, add_progress, bounded,
                            check_outputs, comma_list)


def add_parser(sub):
    p = sub.add_parser("eval", help="FID, LPIPS diversity, FRD and Perceptual Smoothness of a trained model")
    add_checkpoint(p)
    p.add_argument("--data", required=True, help="dataset root in StarGAN v2 layout (sources from val/)")
    p.add_argument("--metrics", help="comma list from fid, lpips, ps, ps_pixel, frd, content, domain_acc, "
                   "domain_acc_hueblind, style_acc, char_acc, glyph_reference, glyph_latent, glyph_path, "
                   "paired_reference, paired_latent (default: fid,lpips,ps,domain_acc; "
                   "frd for face models; content and domain_acc_hueblind when DATA has a synthetic manifest.csv; "
                   "paired_reference and paired_latent when val/<domain>/<name> share names (i2i make-emoji); "
                   "on glyph data (i2i make-glyphs) ps_pixel, style_acc, char_acc and the glyph_* ground-truth "
                   "metrics, and no domain_acc)")
    p.add_argument("--tasks", help="comma list of src2trg tasks, e.g. cat2dog,dog2cat (default: every pair)")
    p.add_argument("--num-sources", type=bounded(int, 1, 10**7), help="source images per domain (default: all of val/)")
    p.add_argument("--steps", type=bounded(int, 2, 200), default=20, help="frames per interpolation (default 20)")
    p.add_argument("--frames", choices=["endpoints", "authors"], default="endpoints",
                   help="alphas t/(F-1) with both end points (paper text) or t/F (authors' PS script)")
    p.add_argument("--mode", choices=["latent", "reference"], default="latent", help="where style codes come from")
    p.add_argument("--distance", choices=["lpips", "sqrt-lpips"], default="lpips", help="PS distance")
    p.add_argument("--num-outs", type=bounded(int, 2, 1000), default=10, help="translations per source (LPIPS, FRD)")
    p.add_argument("--fid-protocol", choices=["interpolation", "translation"], default="interpolation",
                   help="FID on interpolation frames (paper) or on random translations (StarGAN v2)")
    p.add_argument("--real-split", default="train", help="split holding FID's real images (default train)")
    p.add_argument("--batch-size", type=bounded(int, 1, 65536), default=40, help="images per generator forward")
    p.add_argument("--seed", type=bounded(int, 0, MAX_SEED), default=0)
    p.add_argument("--out", help="JSON report (Markdown written next to it); default RUN/eval/report.json, in the "
                   "run directory of --checkpoint, so that reports of different runs do not overwrite each other")
    add_metric_weights(p, "pretrained metric weights (Inception, AlexNet, VGGFace2)")
    p.add_argument("--stats-cache", help="folder for cached real-image FID statistics ('' disables)")
    p.add_argument("--save-images", help="also write every generated image under this folder")
    add_overwrite(p)
    add_progress(p)
    return p


def run(args) -> int:
    from i2i.evaluation import EvalSettings, evaluate, write_report
    from i2i.evaluation.report import paper_table, task_table
    from i2i.rundir import EVAL_REPORT, exclusive_writer, resolve_checkpoint

    if args.metrics is not None and not comma_list(args.metrics):
        raise ValueError("--metrics is empty: name at least one metric, or leave the option out for the defaults")
    settings = EvalSettings(
        checkpoint=args.checkpoint, data=args.data, metrics=comma_list(args.metrics), tasks=comma_list(args.tasks),
        num_sources=args.num_sources, steps=args.steps, include_end=args.frames == "endpoints", mode=args.mode,
        distance=args.distance, num_outs=args.num_outs, fid_protocol=args.fid_protocol, real_split=args.real_split,
        batch_size=args.batch_size, seed=args.seed, weights_dir=args.weights_dir,
        random_weights=args.random_weights, device=args.device, stats_cache=args.stats_cache,
        save_images=args.save_images, progress=not args.no_progress)
    out = Path(args.out or resolve_checkpoint(args.checkpoint)[0] / EVAL_REPORT)
    check_outputs([out, out.with_suffix(".md")], args.overwrite)
    with exclusive_writer(out.parent, "i2i eval"):  # two evaluations never write one report
        report = evaluate(settings)
        json_path, md_path = write_report(report, out)
    print(paper_table(report), task_table(report), sep="\n\n")
    for note in report["notes"]:
        print(f"note: {note}")
    print(f"report: {json_path} and {md_path}")
    return 0
