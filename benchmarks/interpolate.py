"""Latency of one 20-frame interpolation (Translator.interpolate: encode once, batched decode) versus
frame by frame (one full generator call per frame), on the current device.

Networks are randomly initialised with StarGAN v2's widths (latency does not depend on the weights).
Example: python benchmarks/interpolate.py --sizes 64 256 --repeats 3
"""
from __future__ import annotations

import argparse
import time

import torch

from i2i.config import Config, ModelConfig
from i2i.data.images import to_uint8
from i2i.inference import StyleSpec, Translator, lerp_styles
from i2i.models import build_networks


def frame_by_frame(translator: Translator, image: torch.Tensor, start: StyleSpec, end: StyleSpec, steps: int):
    styles = lerp_styles(translator.style(start)[None], translator.style(end)[None], torch.linspace(0, 1, steps))[0]
    x = image[None].to(translator.device)
    return torch.stack([to_uint8(translator.nets.generator(x, s[None]))[0] for s in styles])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per variant (median reported)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    print(f"device={device} threads={torch.get_num_threads()} frames={args.steps} (median of {args.repeats})")
    print("| size | batched s | frame-by-frame s | speed-up |")
    print("|---:|---:|---:|---:|")
    for size in args.sizes:
        cfg = Config(model=ModelConfig(img_size=size))
        torch.manual_seed(0)
        translator = Translator(build_networks(cfg.model, 2, discriminator=False), cfg, ["a", "b"], device)
        image = torch.rand(3, size, size) * 2 - 1
        start, end = StyleSpec("a", seed=1), StyleSpec("b", seed=2)
        variants = {"batched": lambda: translator.interpolate(image, start, end, args.steps)[0],
                    "frame-by-frame": lambda: frame_by_frame(translator, image, start, end, args.steps)}
        medians = {}
        with torch.inference_mode():
            for name, fn in variants.items():
                fn()  # warm-up
                times = []
                for _ in range(args.repeats):
                    sync()
                    tic = time.perf_counter()
                    fn()
                    sync()
                    times.append(time.perf_counter() - tic)
                medians[name] = sorted(times)[len(times) // 2]
        print(f"| {size} | {medians['batched']:.3f} | {medians['frame-by-frame']:.3f} | "
              f"{medians['frame-by-frame'] / medians['batched']:.2f}x |")


if __name__ == "__main__":
    main()
