"""Training speed (D latent + D reference + G latent + G reference + EMA) per option, after warm-up, as a table.

Example: python benchmarks/train_step.py --config configs/synthetic.yaml
         python benchmarks/train_step.py --config configs/afhq.yaml --img-size 256 --batch 8 --iters 2 --warmup 1
         python benchmarks/train_step.py --device cuda --options baseline,bf16,fp16,channels_last,compile
"""
from __future__ import annotations

import argparse
import time

import torch

from i2i.config import load_config
from i2i.device import resolve_device
from i2i.training import Trainer


def synthetic_batch(batch: int, img_size: int, latent_dim: int, num_domains: int, device) -> dict:
    g = torch.Generator().manual_seed(0)
    x = lambda: torch.rand(batch, 3, img_size, img_size, generator=g).mul(2).sub(1).to(device)  # noqa: E731
    y = lambda: torch.randint(num_domains, (batch,), generator=g).to(device)  # noqa: E731
    return {"x_src": x(), "y_src": y(), "x_ref": x(), "x_ref2": x(), "y_trg": y(),
            "z1": torch.randn(batch, latent_dim, generator=g).to(device),
            "z2": torch.randn(batch, latent_dim, generator=g).to(device)}


OPTIONS = {  # name -> config overrides on top of the baseline (fp32, NCHW, eager)
    "baseline": [],
    "channels_last": ["train.channels_last=true"],
    "bf16": ["train.amp=bf16"],
    "fp16": ["train.amp=fp16"],
    "bf16+channels_last": ["train.amp=bf16", "train.channels_last=true"],
    "compile": ["train.compile=true"],
}


def measure(cfg, device, domains: int, warmup: int, iters: int) -> tuple[float, float | None]:
    """Seconds per iteration after ``warmup`` iterations, and peak GPU memory in GiB (None on CPU)."""
    trainer = Trainer(cfg, domains, device)
    batch = synthetic_batch(cfg.train.batch_size, cfg.model.img_size, cfg.model.latent_dim, domains, device)
    if cfg.train.channels_last:
        batch = {k: v.contiguous(memory_format=torch.channels_last) if v.dim() == 4 else v for k, v in batch.items()}
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    for step in range(warmup):
        trainer.train_step(batch, step)
    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    tic = time.perf_counter()
    for step in range(iters):
        trainer.train_step(batch, warmup + step)
    sync()
    sec = (time.perf_counter() - tic) / iters
    return sec, torch.cuda.max_memory_allocated(device) / 2**30 if cuda else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/synthetic.yaml")
    parser.add_argument("--img-size", type=int, help="override model.img_size")
    parser.add_argument("--batch", type=int, help="override train.batch_size")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda")
    parser.add_argument("--options", default="baseline,channels_last",
                        help=f"comma list from {','.join(OPTIONS)} (amp options only on CUDA)")
    parser.add_argument("--iters", type=int, default=10, help="timed iterations")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--domains", type=int, default=3)
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args()
    device = resolve_device(args.device)
    base = [*args.set, "train.lpips_random_weights=true"]  # speed does not depend on LPIPS weights
    base += [f"train.batch_size={args.batch}"] if args.batch else []
    base += [f"model.img_size={args.img_size}"] if args.img_size else []
    rows = []
    for name in args.options.split(","):
        if name not in OPTIONS:
            raise SystemExit(f"unknown option {name!r}: choose from {', '.join(OPTIONS)}")
        if device.type != "cuda" and any("amp" in o for o in OPTIONS[name]):
            print(f"skipping {name}: mixed precision runs on CUDA only")
            continue
        cfg = load_config(args.config, [*base, *OPTIONS[name]])
        sec, mem = measure(cfg, device, args.domains, args.warmup, args.iters)
        rows.append((name, sec, mem))
    cfg = load_config(args.config, base)
    print(f"config={args.config} img_size={cfg.model.img_size} batch={cfg.train.batch_size} device={device} "
          f"threads={torch.get_num_threads()} warmup={args.warmup} iters={args.iters}")
    print("| option | s/iter | it/s | img/s | vs baseline | peak GPU GiB |")
    print("|---|---:|---:|---:|---:|---:|")
    ref = rows[0][1] if rows else 1.0
    for name, sec, mem in rows:
        print(f"| {name} | {sec:.3f} | {1 / sec:.3g} | {cfg.train.batch_size / sec:.3g} | {ref / sec:.2f}x | "
              f"{'-' if mem is None else f'{mem:.2f}'} |")


if __name__ == "__main__":
    main()
