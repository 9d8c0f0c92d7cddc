"""``i2i app``: serve the Gradio interpolation app for a run."""
from __future__ import annotations

from i2i.cli.common import add_backend, add_checkpoint, add_metric_weights, bounded


def add_parser(sub):
    p = sub.add_parser("app", help="serve the Gradio interpolation app for a run")
    add_checkpoint(p)
    add_backend(p, default="auto")  # a served model decodes many times: the export pays for itself
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=bounded(int, 1, 65535), help="port (default: the first free one from 7860)")
    p.add_argument("--data", help="dataset root for example images (default: the run's data.root)")
    p.add_argument("--out-dir", help="folder for the app's outputs (default: a fresh temporary folder)")
    add_metric_weights(p, "the LPIPS AlexNet weights (for the PS score)")
    p.add_argument("--compare", metavar="RUN_B", help="a second model of the same image size: adds the Compare tab")
    p.add_argument("--no-batch", action="store_true",
                   help="serve requests one at a time (default: up to 16 at once, their frames decoded together)")
    return p


def run(args) -> int:
    from i2i.app import launch

    launch(args.checkpoint, host=args.host, port=args.port, device=args.device, out_dir=args.out_dir,
           data=args.data, weights_dir=args.weights_dir, random_weights=args.random_weights, compare=args.compare,
           batch=not args.no_batch, backend=args.backend)
    return 0
