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
