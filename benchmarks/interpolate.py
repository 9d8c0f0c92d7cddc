"""Latency of one 20-frame interpolation per inference backend, side by side, with each one's share of the measured
convolution peak and its largest difference from eager PyTorch.

Rows: ``eager`` (Translator.interpolate: encode once, batched decode), ``frame-by-frame`` (one generator call per
frame, the naive way), ``channels_last`` (NHWC tensors), ``compile`` (torch.compile of the decoder; CPU inductor or
CUDA), ``onnxruntime`` (``Translator(..., backend="onnxruntime")``: the generator's exported halves in ONNX Runtime, as
many threads as torch; the app's default on CPUs). FLOPs of one
interpolation come from torch's FLOP formulas (convolutions and matrix products).

Networks are randomly initialised with StarGAN v2's widths (latency does not depend on the weights).
Example: python benchmarks/interpolate.py --sizes 64 256 --repeats 3
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from i2i.config import Config, ModelConfig
from i2i.inference import Translator, lerp_styles
from i2i.kinds import build_networks
from machine import FlopCount, conv_peak_gflops

BACKENDS = ("eager", "frame-by-frame", "channels_last", "compile", "onnxruntime")


def make_runners(translator: Translator, image: torch.Tensor, styles: torch.Tensor, backends: list[str]) -> dict:
    """``backend -> fn()`` returning the frames (F, 3, S, S) of the same interpolation."""
    g = translator.nets.generator
    x = image[None].to(translator.device)
    runners = {}
    if "eager" in backends:
        runners["eager"] = lambda: translator.decode_many(x, styles[None])[0]
    if "frame-by-frame" in backends:
        runners["frame-by-frame"] = lambda: torch.cat([g(x, s[None]) for s in styles])
    if "channels_last" in backends:
        def nhwc():
            g.to(memory_format=torch.channels_last)
            try:
                return g.decode_many(x.contiguous(memory_format=torch.channels_last), styles[None])[0]
            finally:
                g.to(memory_format=torch.contiguous_format)
        runners["channels_last"] = nhwc
    if "compile" in backends:
        compiled = torch.compile(g.decode_content)
        runners["compile"] = lambda: compiled(g.encode_content(x)[0].expand(len(styles), -1, -1, -1), styles)
    if "onnxruntime" in backends:  # what Translator(..., backend="onnxruntime"), the CLI's and app's default, runs
        ort = Translator(translator.nets, translator.cfg, translator.domains, translator.device, backend="onnxruntime")
        runners["onnxruntime"] = lambda: ort.decode_many(x, styles[None])[0]
    return runners


def median_seconds(fn, repeats: int, sync) -> float:
    fn()  # warm-up (and compilation)
    times = []
    for _ in range(repeats):
        sync()
        tic = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - tic)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per backend (median reported)")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    backends = [b for b in args.backends.split(",") if b != "onnxruntime" or device.type == "cpu"]
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    peak = conv_peak_gflops(device)
    print(f"device={device} threads={torch.get_num_threads()} frames={args.steps} (median of {args.repeats}); "
          f"measured convolution peak {peak:.0f} GFLOP/s (3x3, 512 channels, 32 x 32, batch 8)")
    print("| size | backend | s | vs eager | GFLOP/s | share of conv peak | max abs diff vs eager |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        cfg = Config(model=ModelConfig(img_size=size))
        torch.manual_seed(0)
        translator = Translator(build_networks(cfg.model, 2, discriminator=False), cfg, ["a", "b"], device)
        image = torch.rand(3, size, size) * 2 - 1
        s = translator.latent_styles(torch.tensor([0, 1]), torch.Generator().manual_seed(1))
        styles = lerp_styles(s[:1], s[1:], torch.linspace(0, 1, args.steps))[0].to(device)
        with torch.no_grad():
            runners = make_runners(translator, image, styles, backends)
            reference = runners["eager"]()
            with FlopCount() as counter:  # the generator itself: Translator's inference_mode hides ops from the counter
                translator.nets.generator.decode_many(image[None].to(device), styles[None])
            gflop = counter.total / 1e9
            seconds = {name: median_seconds(fn, args.repeats, sync) for name, fn in runners.items()}
            for name, fn in runners.items():
                diff = (fn().to(reference) - reference).abs().max().item()
                rate = gflop / seconds[name]
                print(f"| {size} | {name} | {seconds[name]:.3f} | {seconds['eager'] / seconds[name]:.2f}x | "
                      f"{rate:.0f} | {100 * rate / peak:.0f}% | {diff:.1e} |")


if __name__ == "__main__":
    main()
