"""Training speed (D latent + D reference + G latent + G reference + EMA) per option, after warm-up, as a table.

Example: python benchmarks/train_step.py --config configs/synthetic.yaml
         python benchmarks/train_step.py --config configs/afhq.yaml --img-size 32 --set model.max_conv_dim=128 \
             --options stargan-v2-order,baseline --losses stargan-v2 --profile
         python benchmarks/train_step.py --device cuda --options baseline,bf16,fp16,channels_last,compile

The ``stargan-v2-order`` row runs :func:`stargan_v2_order_step`, a plain step in StarGAN v2's order with
nothing shared, on the same networks and optimisers, so "vs first row" is the speed-up of the Trainer.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from tqdm import tqdm

from i2i import losses
from i2i.config import load_config
from i2i.device import resolve_device
from i2i.training import Trainer
from i2i.training.ema import update_ema
from i2i.training.stargan_v2_losses import target_code
from machine import FlopCount, matmul_peak_gflops


def synthetic_batch(batch: int, img_size: int, latent_dim: int, num_domains: int, device) -> dict:
    g = torch.Generator().manual_seed(0)
    x = lambda: torch.rand(batch, 3, img_size, img_size, generator=g).mul(2).sub(1).to(device)  # noqa: E731
    y = lambda: torch.randint(num_domains, (batch,), generator=g).to(device)  # noqa: E731
    return {"x_src": x(), "y_src": y(), "x_ref": x(), "x_ref2": x(), "y_trg": y(),
            "z1": torch.randn(batch, latent_dim, generator=g).to(device),
            "z2": torch.randn(batch, latent_dim, generator=g).to(device)}


def stargan_v2_order_step(trainer: Trainer, batch: dict, step: int) -> None:
    """StarGAN v2's iteration written plainly: every fake made afresh, the second diversity fake through the
    whole generator with its graph, full ``backward()`` into every network (D included in G steps, its
    gradients then discarded), as in its solver. StarGAN v2's losses only (fp32, no FAN masks)."""
    nets, opts, w = trainer.nets, trainer.optims, trainer.loss_weights(step)
    x, y_org, y_trg = batch["x_src"], batch["y_src"], batch["y_trg"]
    bce = losses.adversarial_loss

    def update(loss: torch.Tensor, names: tuple[str, ...]) -> None:
        for opt in opts.values():
            opt.zero_grad(set_to_none=True)
        loss.backward()
        for name in names:
            opts[name].step()

    nets.discriminator.requires_grad_(True)
    for mode in ("latent", "reference"):
        x_req = x.detach().requires_grad_()
        out = nets.discriminator(x_req, y_org)
        loss = bce(out, 1) + w.reg * losses.r1_penalty(out, x_req)
        with torch.no_grad():
            x_fake = nets.generator(x, target_code(nets, batch, mode))
        update(loss + bce(nets.discriminator(x_fake, y_trg), 0), ("discriminator",))
    for mode in ("latent", "reference"):
        s_trg = target_code(nets, batch, mode)
        x_fake = nets.generator(x, s_trg)
        loss = bce(nets.discriminator(x_fake, y_trg), 1)
        loss = loss + w.sty * (nets.style_encoder(x_fake, y_trg) - s_trg).abs().mean()
        x_fake2 = nets.generator(x, target_code(nets, batch, mode, second=True)).detach()
        loss = loss - w.ds * (x_fake - x_fake2).abs().mean()
        x_rec = nets.generator(x_fake, nets.style_encoder(x, y_org))
        loss = loss + w.cyc * F.l1_loss(x_rec, x)
        update(loss, ("generator", "mapping_network", "style_encoder") if mode == "latent" else ("generator",))
    for name, ema_net in trainer.ema.items():
        update_ema(getattr(nets, name), ema_net, trainer.cfg.train.ema_beta)


OPTIONS = {  # name -> config overrides on top of the config's own settings
    "stargan-v2-order": [],  # stargan_v2_order_step instead of Trainer.train_step
    "baseline": [],
    "channels_last": ["train.channels_last=true"],
    "bf16": ["train.amp=bf16"],
    "fp16": ["train.amp=fp16"],
    "bf16+channels_last": ["train.amp=bf16", "train.channels_last=true"],
    "compile": ["train.compile=true"],
}


class Row:
    """One benchmark row: a trainer, its batch and its step function (Trainer.train_step or the plain step)."""

    def __init__(self, name: str, cfg, device, domains: int):
        self.name, self.trainer, self.times, self.peak = name, Trainer(cfg, domains, device), [], None
        batch = synthetic_batch(cfg.train.batch_size, cfg.model.img_size, cfg.model.latent_dim, domains, device)
        if self.trainer.channels_last:
            batch = {k: v.contiguous(memory_format=torch.channels_last) if v.dim() == 4 else v
                     for k, v in batch.items()}
        self.batch, self.step = batch, 0
        plain = name == "stargan-v2-order"
        self.step_fn = (lambda b, i: stargan_v2_order_step(self.trainer, b, i)) if plain else self.trainer.train_step

    def run(self, timed: bool) -> None:
        """One iteration; its time is kept when ``timed`` (and the peak GPU memory of the row on CUDA)."""
        cuda = self.trainer.device.type == "cuda"
        sync = torch.cuda.synchronize if cuda else (lambda: None)
        if cuda:
            sync()
            torch.cuda.reset_peak_memory_stats(self.trainer.device)
        tic = time.perf_counter()
        self.step_fn(self.batch, self.step)
        sync()
        self.step += 1
        if timed:
            self.times.append(time.perf_counter() - tic)
            if cuda:
                self.peak = max(self.peak or 0.0, torch.cuda.max_memory_allocated(self.trainer.device) / 2**30)


def measure(rows: list[Row], warmup: int, iters: int) -> None:
    """Warm every row up, then time the rows in turn, one iteration each per round, so that a slow phase of
    the machine hits every row alike (the reported figure is each row's median)."""
    for row in rows:
        for _ in range(warmup):
            row.run(timed=False)
    for _ in tqdm(range(iters), desc="rounds", leave=False):
        for row in rows:
            row.run(timed=True)


def print_profile(step_fn, batch: dict, step: int, sec: float, cuda: bool, top: int = 12) -> None:
    """Top operators of one iteration (torch.profiler, self time) and the GFLOP/s the timed iterations reached
    (FLOPs of one iteration from ``torch.utils.flop_counter``, forward, backward and R1's double backward)."""
    from torch.profiler import ProfilerActivity, profile

    with FlopCount() as counter:
        step_fn(batch, step)
    flops = counter.total
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        step_fn(batch, step + 1)
    key = "self_cuda_time_total" if cuda else "self_cpu_time_total"
    print(prof.key_averages().table(sort_by=key, row_limit=top))
    achieved, peak = flops / sec / 1e9, matmul_peak_gflops(batch["x_src"].device)
    print(f"{flops / 1e9:.1f} GFLOP per iteration, {achieved:.1f} GFLOP/s achieved, {100 * achieved / peak:.0f}% of "
          f"this machine's float32 matmul rate ({peak:.0f} GFLOP/s, torch.mm 4096x4608 @ 4608x512)")


LOSSES = {"config": [], "stargan-v2": ["loss.lambda_tri=0", "loss.lambda_sr=0", "loss.lambda_cont=0",
                                       "loss.lambda_recoloured=0"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/synthetic.yaml")
    parser.add_argument("--img-size", type=int, help="override model.img_size")
    parser.add_argument("--batch", type=int, help="override train.batch_size")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda")
    parser.add_argument("--options", default="baseline,channels_last",
                        help=f"comma list from {','.join(OPTIONS)} (amp options only on CUDA)")
    parser.add_argument("--losses", choices=list(LOSSES), default="config",
                        help="stargan-v2: switch the paper's triplet, SR and content terms and lambda_recoloured "
                             "off (needed by the stargan-v2-order row, which computes StarGAN v2's losses only)")
    parser.add_argument("--iters", type=int, default=10, help="timed rounds (one iteration of every row each)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--domains", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="top operators and GFLOP/s of each row")
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args()
    device = resolve_device(args.device)
    base = [*args.set, *LOSSES[args.losses], "loss.lpips_weights=random"]  # speed does not depend on weights
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
        if name == "stargan-v2-order" and (cfg.loss.lambda_tri or cfg.loss.lambda_sr or cfg.loss.lambda_cont
                                           or cfg.loss.lambda_recoloured or cfg.model.w_hpf):
            raise SystemExit("the stargan-v2-order row computes StarGAN v2's losses only: pass --losses stargan-v2 "
                             "(and a config with model.w_hpf=0)")
        rows.append(Row(name, cfg, device, args.domains))
    measure(rows, args.warmup, args.iters)
    if args.profile:
        for row in rows:
            print(f"--- {row.name}")
            print_profile(row.step_fn, row.batch, row.step, statistics.median(row.times), device.type == "cuda")
    cfg = load_config(args.config, base)
    m = cfg.model
    print(f"config={args.config} img_size={m.img_size} base_dim={m.base_dim or 'stargan-v2'} "
          f"max_conv_dim={m.max_conv_dim} style={m.style_dim} batch={cfg.train.batch_size} losses={args.losses} "
          f"device={device} threads={torch.get_num_threads()} warmup={args.warmup} rounds={args.iters}")
    print("| option | s/iter (median) | min-max | it/s | img/s | vs first row | peak GPU GiB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    ref = statistics.median(rows[0].times) if rows else 1.0
    for row in rows:
        sec = statistics.median(row.times)
        print(f"| {row.name} | {sec:.3f} | {min(row.times):.3f}-{max(row.times):.3f} | {1 / sec:.3g} | "
              f"{cfg.train.batch_size / sec:.3g} | {ref / sec:.2f}x | "
              f"{'-' if row.peak is None else f'{row.peak:.2f}'} |")


if __name__ == "__main__":
    main()
