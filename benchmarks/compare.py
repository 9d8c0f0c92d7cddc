"""Latency of one Compare-tab request (two models, one interpolation each, PS, step distances, both style maps).

Example: python benchmarks/compare.py --a runs/ablate/baseline/seed0 --b runs/ablate/full/seed0 --steps 20
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from i2i.app.compare import CompareHandlers
from i2i.app.handlers import DemoHandlers
from i2i.evaluation.perceptual import LPIPSDistance
from i2i.data.dataset import scan_split
from i2i.inference import Translator
from i2i.pretrained import build_lpips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", required=True, help="run directory of model A")
    parser.add_argument("--b", required=True, help="run directory of model B")
    parser.add_argument("--data", help="dataset root for the source image (default: A's data.root)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    a = Translator.load(args.a, args.device)
    net, provenance = build_lpips(random_weights=True)  # speed does not depend on the weights
    handlers = DemoHandlers(a, LPIPSDistance(net.to(a.device)), provenance, tempfile.mkdtemp(prefix="i2i-bench-"))
    tic = time.perf_counter()
    compare = CompareHandlers(handlers, Translator.load(args.b, args.device), ("A", "B"))
    setup = time.perf_counter() - tic
    source = str(scan_split(args.data or a.cfg.data.root, "val")[1][0][0])
    request = (source, "seed", a.domains[0], 0, None, "seed", a.domains[-1], 1, None, args.steps, "lerp")
    compare.compare(*request)  # warm-up
    times = []
    for _ in range(args.repeats):
        tic = time.perf_counter()
        compare.compare(*request)
        times.append(time.perf_counter() - tic)
    print(f"img_size={a.img_size} steps={args.steps} device={a.device} threads={torch.get_num_threads()} "
          f"repeats={args.repeats}")
    print(f"set-up (second model + both style maps): {setup:.2f} s")
    print(f"one comparison: median {statistics.median(times):.3f} s (min {min(times):.3f}, max {max(times):.3f})")


if __name__ == "__main__":
    main()
