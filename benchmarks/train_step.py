"""Seconds per training iteration (D latent + D reference + G latent + G reference + EMA) for a config.

Example: python benchmarks/train_step.py --config configs/synthetic.yaml
         python benchmarks/train_step.py --config configs/afhq.yaml --batch 8 --iters 2
"""
from __future__ import annotations

import argparse
import time

import torch

from i2i.config import load_config
from i2i.training import Trainer


def synthetic_batch(batch: int, img_size: int, latent_dim: int, num_domains: int, device) -> dict:
    g = torch.Generator().manual_seed(0)
    x = lambda: torch.rand(batch, 3, img_size, img_size, generator=g).mul(2).sub(1).to(device)  # noqa: E731
    y = lambda: torch.randint(num_domains, (batch,), generator=g).to(device)  # noqa: E731
    return {"x_src": x(), "y_src": y(), "x_ref": x(), "x_ref2": x(), "y_trg": y(),
            "z1": torch.randn(batch, latent_dim, generator=g).to(device),
            "z2": torch.randn(batch, latent_dim, generator=g).to(device)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/synthetic.yaml")
    parser.add_argument("--batch", type=int, help="override train.batch_size")
    parser.add_argument("--iters", type=int, default=10, help="timed iterations")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--domains", type=int, default=3)
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args()
    overrides = [*args.set, "train.lpips_random_weights=true"]  # speed does not depend on LPIPS weights
    if args.batch:
        overrides.append(f"train.batch_size={args.batch}")
    cfg = load_config(args.config, overrides)
    device = torch.device("cuda" if torch.cuda.is_available() and cfg.train.device != "cpu" else "cpu")
    trainer = Trainer(cfg, args.domains, device)
    batch = synthetic_batch(cfg.train.batch_size, cfg.model.img_size, cfg.model.latent_dim, args.domains, device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for step in range(args.warmup):
        trainer.train_step(batch, step)
    sync()
    tic = time.perf_counter()
    for step in range(args.iters):
        trainer.train_step(batch, args.warmup + step)
    sync()
    sec = (time.perf_counter() - tic) / args.iters
    print(f"config={args.config} img_size={cfg.model.img_size} batch={cfg.train.batch_size} device={device} "
          f"threads={torch.get_num_threads()}")
    print(f"{sec:.3f} s/iter  {1 / sec:.3g} it/s  {cfg.train.batch_size / sec:.3g} img/s")


if __name__ == "__main__":
    main()
