"""``i2i train``: train a model from a YAML config, or continue one with ``--resume``."""
from __future__ import annotations

import sys
from pathlib import Path

from i2i.cli.common import add_overrides, add_progress


def add_parser(sub):
    p = sub.add_parser("train", help="train a model (or continue one with --resume)")
    p.add_argument("--config", help="YAML config (configs/*.yaml); with --resume defaults to RUN_DIR/config.yaml")
    p.add_argument("--run-dir", required=True, help="run directory: config, checkpoints, logs, sample grids")
    add_overrides(p)
    p.add_argument("--resume", action="store_true", help="continue from the run directory's latest checkpoint")
    p.add_argument("--overwrite", action="store_true", help="start a new run in a folder that holds files (a config, "
                                                             "a log) but no checkpoints, replacing them")
    add_progress(p)
    return p


def run(args) -> int:
    from i2i.config import load_config
    from i2i.rundir import CONFIG_FILE
    from i2i.training import train

    run_dir = Path(args.run_dir)
    config_path = args.config
    if args.resume and config_path is None and (run_dir / CONFIG_FILE).exists():
        config_path = run_dir / CONFIG_FILE
    if config_path is None:
        print("error: --config is required (e.g. configs/synthetic.yaml)", file=sys.stderr)
        return 2
    cfg = load_config(config_path, args.set)
    final = train(cfg, run_dir, resume=args.resume, progress=not args.no_progress, overwrite=args.overwrite)
    print(f"checkpoint: {final}" if final is not None else f"no checkpoint written in {run_dir}")
    if (run_dir / "samples").is_dir():
        print(f"sample grids: {run_dir / 'samples'}")
    return 0
