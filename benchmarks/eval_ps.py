"""PS sequences per second: batched (encode once, decode all frames, LPIPS features once, all pairs in one
call) versus the authors' way (one generator call per frame, one LPIPS call per pair).

"batched" decodes in the Translator's default chunks (all frames at once on GPU, cache-sized chunks on CPU);
"one call" forces every frame of every sequence through a single decoder call.

Networks are randomly initialised with StarGAN v2's widths (speed does not depend on the weights).
Example: python benchmarks/eval_ps.py --sizes 64 256 --sequences 4 2
"""
from __future__ import annotations

import argparse
import time

import torch

from i2i.evaluation.perceptual import LPIPSDistance
from i2i.evaluation.ps import interpolation_alphas, perceptual_smoothness, sequence_distances
from i2i.config import Config, ModelConfig
from i2i.inference import Translator, lerp_styles
from i2i.kinds import build_networks
from i2i.pretrained import build_lpips


def batched(translator: Translator, distance: LPIPSDistance, x, s0, s1, alphas) -> torch.Tensor:
    frames = translator.decode_interpolation(x, s0, s1, alphas).clamp(-1, 1)
    return perceptual_smoothness(*sequence_distances(distance, frames)).ps


def naive(translator: Translator, net, x, s0, s1, alphas) -> torch.Tensor:
    scores = []
    for n in range(x.size(0)):
        styles = lerp_styles(s0[n:n + 1], s1[n:n + 1], alphas)[0]
        frames = [translator.nets.generator(x[n:n + 1], s[None]).clamp(-1, 1) for s in styles]
        steps = torch.stack([net(a, b).flatten()[0] for a, b in zip(frames[:-1], frames[1:])])
        scores.append(perceptual_smoothness(steps[None], net(frames[0], frames[-1]).flatten()).ps)
    return torch.cat(scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--sequences", type=int, nargs="+", default=[4, 2], help="sequences timed, per size")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    net, provenance = build_lpips(random_weights=True)
    net = net.to(device)
    print(f"device={device} threads={torch.get_num_threads()} frames={args.frames} LPIPS weights: {provenance} "
          "(timing only)")
    print("| size | sequences | batched seq/s | one call seq/s | naive seq/s | speed-up (batched/naive) | "
          "max abs PS diff |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for size, count in zip(args.sizes, args.sequences * len(args.sizes)):
        cfg = Config(model=ModelConfig(img_size=size))
        torch.manual_seed(0)
        translator = Translator(build_networks(cfg.model, 3, discriminator=False), cfg, ["a", "b", "c"], device)
        g = torch.Generator().manual_seed(0)
        x = (torch.rand(count, 3, size, size, generator=g) * 2 - 1).to(device)
        s0 = translator.latent_styles(torch.zeros(count, dtype=torch.long), g)
        s1 = translator.latent_styles(torch.ones(count, dtype=torch.long), g)
        alphas = interpolation_alphas(args.frames)
        timings, results = {}, {}
        chunked = translator.decode_batch
        with torch.inference_mode():
            for name, fn in (("batched", lambda: batched(translator, LPIPSDistance(net), x, s0, s1, alphas)),
                             ("one call", lambda: batched(translator, LPIPSDistance(net), x, s0, s1, alphas)),
                             ("naive", lambda: naive(translator, net, x, s0, s1, alphas))):
                translator.decode_batch = None if name == "one call" else chunked
                fn() if size <= 64 else None  # warm-up where it is cheap
                sync()
                tic = time.perf_counter()
                results[name] = fn()
                sync()
                timings[name] = count / (time.perf_counter() - tic)
        diff = (results["batched"] - results["naive"]).abs().max().item()
        print(f"| {size} | {count} | {timings['batched']:.3g} | {timings['one call']:.3g} | {timings['naive']:.3g} | "
              f"{timings['batched'] / timings['naive']:.2f}x | {diff:.1e} |")


if __name__ == "__main__":
    main()
