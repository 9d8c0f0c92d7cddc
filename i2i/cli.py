"""The ``i2i`` command line: one subcommand per job."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def _make_synthetic(args) -> int:
    from .data import make_synthetic

    out = make_synthetic(args.out, num_train=args.num_train, num_val=args.num_val, size=args.size, seed=args.seed)
    print(f"wrote synthetic dataset to {out} (manifest: {out / 'manifest.csv'})")
    return 0


def _train(args) -> int:
    from .config import load_config
    from .training import train

    run_dir = Path(args.run_dir)
    config_path = args.config
    if args.resume and config_path is None and (run_dir / "config.yaml").exists():
        config_path = run_dir / "config.yaml"
    if config_path is None:
        print("error: --config is required (e.g. configs/synthetic.yaml)", file=sys.stderr)
        return 2
    cfg = load_config(config_path, args.set)
    final = train(cfg, run_dir, resume=args.resume, progress=not args.no_progress)
    print(f"checkpoint: {final}")
    print(f"sample grids: {run_dir / 'samples'}")
    return 0


def _comma_list(text: str | None) -> tuple[str, ...] | None:
    return tuple(t.strip() for t in text.split(",") if t.strip()) if text else None


def _eval(args) -> int:
    from evaluation import EvalSettings, evaluate, write_report
    from evaluation.report import task_table

    settings = EvalSettings(
        checkpoint=args.checkpoint, data=args.data, metrics=_comma_list(args.metrics), tasks=_comma_list(args.tasks),
        num_sources=args.num_sources,
        steps=args.steps, include_end=args.frames == "endpoints", mode=args.mode, distance=args.distance,
        num_outs=args.num_outs, fid_protocol=args.fid_protocol, real_split=args.real_split,
        batch_size=args.batch_size, seed=args.seed, weights_dir=args.weights_dir,
        random_weights=args.random_weights, device=args.device, stats_cache=args.stats_cache,
        save_images=args.save_images, progress=not args.no_progress)
    report = evaluate(settings)
    json_path, md_path = write_report(report, args.out)
    print(task_table(report))
    for note in report["notes"]:
        print(f"note: {note}")
    print(f"report: {json_path} and {md_path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="i2i", description="Smooth multi-domain image-to-image translation "
                                     "(StarGAN v2 + triplet, style-regularisation and content losses).")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("make-synthetic", help="generate the procedural multi-domain demo dataset")
    p.add_argument("--out", required=True, help="output folder (gets train/ and val/ in StarGAN v2 layout)")
    p.add_argument("--num-train", type=int, default=200, help="training images per domain")
    p.add_argument("--num-val", type=int, default=32, help="validation images per domain")
    p.add_argument("--size", type=int, default=64, help="image side in pixels")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_make_synthetic)

    p = sub.add_parser("train", help="train a model (or continue one with --resume)")
    p.add_argument("--config", help="YAML config (configs/*.yaml); with --resume defaults to RUN_DIR/config.yaml")
    p.add_argument("--run-dir", required=True, help="run directory: config, checkpoints, logs, sample grids")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.total_iters=500 (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue from the run directory's latest checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_train)

    p = sub.add_parser("eval", help="FID, LPIPS diversity, FRD and Perceptual Smoothness of a trained model")
    p.add_argument("--checkpoint", required=True, help="run directory, checkpoint folder or nets_ema.safetensors")
    p.add_argument("--data", required=True, help="dataset root in StarGAN v2 layout (sources from val/)")
    p.add_argument("--metrics", help="comma list from fid,lpips,ps,frd (default: fid,lpips,ps; frd too for "
                   "face models)")
    p.add_argument("--tasks", help="comma list of src2trg tasks, e.g. cat2dog,dog2cat (default: every pair)")
    p.add_argument("--num-sources", type=int, help="source images per domain (default: all of val/)")
    p.add_argument("--steps", type=int, default=20, help="frames per interpolation (default 20)")
    p.add_argument("--frames", choices=["endpoints", "authors"], default="endpoints",
                   help="alphas t/(F-1) with both end points (paper text) or t/F (authors' PS script)")
    p.add_argument("--mode", choices=["latent", "reference"], default="latent", help="where style codes come from")
    p.add_argument("--distance", choices=["lpips", "sqrt-lpips"], default="lpips", help="PS distance")
    p.add_argument("--num-outs", type=int, default=10, help="translations per source (LPIPS, FRD)")
    p.add_argument("--fid-protocol", choices=["interpolation", "translation"], default="interpolation",
                   help="FID on interpolation frames (paper) or on random translations (StarGAN v2)")
    p.add_argument("--real-split", default="train", help="split holding FID's real images (default train)")
    p.add_argument("--batch-size", type=int, default=40, help="images per generator forward")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="eval/report.json", help="JSON report (Markdown written next to it)")
    p.add_argument("--weights-dir", help="folder holding pretrained metric weights (Inception, AlexNet, VGGFace2)")
    p.add_argument("--random-weights", action="store_true",
                   help="random metric networks: every number is labelled random-weights")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--stats-cache", help="folder for cached real-image FID statistics ('' disables)")
    p.add_argument("--save-images", help="also write every generated image under this folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``i2i`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError, NotImplementedError, RuntimeError) as err:
        if args.verbose:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
