"""Can the data loader feed a GPU at training resolution? Images per second per worker at 256 px from JPEG files.

Makes 2,000 JPEGs with the synthetic generator at 256 px (once, under --data), then times, in this process (one
worker's work), (a) decoding a file to a uint8 tensor, (b) a whole training batch as a worker builds it
(``TrainBatches[step]``: 3 x batch images decoded and augmented) with and without the in-memory cache. Prints
the table, the images one training step needs (3 x batch: sources and two references), and the workers a step of
the measured CPU time, and of ``--step-ms``, would need.

Example: python benchmarks/data_loader.py --step-ms 50 --batch 8
"""
from __future__ import annotations

import argparse
import math
import shutil
import statistics
import time
from pathlib import Path

import torch
from PIL import Image

from i2i.data import DomainImages, TrainBatches
from i2i.data.images import load_image
from i2i.data.synthetic import DOMAINS, make_synthetic


def jpeg_dataset(root: Path, count: int, size: int) -> Path:
    """``count`` JPEGs (three domains, quality 90) at ``size`` px under ``root`` (made once)."""
    if (root / "train").is_dir():
        return root
    pngs = make_synthetic(root / "png", num_train=math.ceil(count / len(DOMAINS)), num_val=1, size=size, seed=0)
    for png in sorted(pngs.rglob("*.png")):
        target = root / png.relative_to(pngs).with_suffix(".jpg")
        target.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(png) as img:
            img.convert("RGB").save(target, quality=90)
    shutil.rmtree(pngs)
    return root


def rate(fn, items: int, repeats: int) -> float:
    """Median items per second of ``fn()`` (which handles ``items`` items) over ``repeats`` runs after a warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        fn()
        times.append(time.perf_counter() - tic)
    return items / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/loader_bench", help="where the JPEGs are made (once)")
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8, help="training batch (StarGAN v2 at 256 px: 8)")
    parser.add_argument("--step-ms", type=float, default=50.0, help="a GPU training step, for the workers it needs")
    parser.add_argument("--cpu-step-ms", type=float, default=None, help="the measured CPU step (default: none)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)  # a data-loader worker is one process on one core
    root = jpeg_dataset(Path(args.data), args.images, args.size)
    files = sorted((root / "train").rglob("*.jpg"))
    chunk = files[:200]
    rows = {"decode one JPEG": rate(lambda: [load_image(f, args.size) for f in chunk], len(chunk), args.repeats)}
    per_step = 3 * args.batch
    for cache in ("no", "yes"):
        images = DomainImages(root, "train", args.size, cache=cache, progress=False)
        batches = TrainBatches(images, args.batch, 16, seed=0)
        steps = range(10)
        rows[f"training batch, cache {cache}"] = rate(lambda: [batches[s] for s in steps], per_step * len(steps),
                                                      args.repeats)
    print(f"{len(files)} JPEGs at {args.size} px; one worker = one process on one core; a step needs {per_step} "
          f"images (batch {args.batch}: sources and two references)")
    extra = f" workers for a {args.cpu_step_ms:g} ms step |" if args.cpu_step_ms else ""
    print(f"| what | images/s per worker | steps/s per worker | workers for a {args.step_ms:g} ms step |{extra}")
    print("|---|---:|---:|---:|" + ("---:|" if args.cpu_step_ms else ""))
    for name, images_per_s in rows.items():
        need = per_step / (args.step_ms / 1000) / images_per_s
        line = f"| {name} | {images_per_s:.0f} | {images_per_s / per_step:.1f} | {math.ceil(need)} ({need:.2f}) |"
        if args.cpu_step_ms:
            cpu_need = per_step / (args.cpu_step_ms / 1000) / images_per_s
            line += f" {math.ceil(cpu_need)} ({cpu_need:.2f}) |"
        print(line)


if __name__ == "__main__":
    main()
