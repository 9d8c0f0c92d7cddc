"""``i2i export``: a run's EMA networks as ONNX or TorchScript files with ``model.json``, for deployment."""
from __future__ import annotations

from i2i.cli.common import add_checkpoint, add_overwrite


def add_parser(sub):
    p = sub.add_parser("export", help="export the EMA networks (style encoder, mapping network, generator halves) as "
                                      "ONNX or TorchScript, for inference without this package")
    add_checkpoint(p)
    p.add_argument("--format", choices=["onnx", "torchscript"], default="onnx")
    p.add_argument("--out", required=True, help="output folder (gets one file per network and model.json)")
    add_overwrite(p)
    return p


def run(args) -> int:
    from pathlib import Path

    from i2i.export import export_run

    out = Path(args.out)
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        raise FileExistsError(f"--out {out} is not empty: choose a new folder, or pass --overwrite")
    if args.format == "onnx":
        try:
            import onnx  # noqa: F401 (torch's ONNX exporter needs it)
        except ImportError:
            raise RuntimeError("ONNX export needs the onnx package: pip install 'i2i[export]' (onnx, onnxruntime)") \
                from None
    folder = export_run(args.checkpoint, out, args.format)
    print(f"exported {args.format} networks and model.json to {folder}")
    return 0
