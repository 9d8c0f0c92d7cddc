"""Load on the app: N concurrent 20-frame interpolations through gradio_client, batched serving versus one at a time.

Starts ``i2i app`` on 127.0.0.1 (once with the default batched serving, once with ``--no-batch``), fires N requests
at once (N = 1, 10, 30 by default) and prints, side by side, the median and largest latency, the time to the last
answer and requests per second. Without ``--checkpoint`` the model is a randomly initialised one of
``configs/glyphs.yaml`` (latency does not depend on the weights).

Example: python benchmarks/app_load.py --clients 1 10 30
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def random_run(folder: Path, config: str) -> Path:
    """A run directory holding a randomly initialised model of ``config`` (three domains)."""
    from i2i.config import load_config
    from i2i.kinds import build_networks
    from i2i.training.checkpoint import save_checkpoint
    from i2i.training.loop import prepare_run_dir

    cfg = load_config(config, ["train.device=cpu", "train.eval_every=0", "train.best_metric="])
    prepare_run_dir(cfg, folder, ["bold", "italic", "regular"], resume=False)
    torch.manual_seed(0)
    nets = build_networks(cfg.model, 3)
    save_checkpoint(folder, 1, nets, nets.ema_copy(), {})
    return folder


def serve(run: Path, batch: bool, log: Path):
    """Start the app; return (process, url)."""
    from socket import socket

    with socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [sys.executable, "-m", "i2i", "app", "--checkpoint", str(run), "--random-weights", "--port", str(port),
            "--device", "cpu"] + ([] if batch else ["--no-batch"])
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(args, stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + 180
    while time.time() < deadline:
        match = re.search(r"at (http://127\.0\.0\.1:\d+/)", log.read_text())
        if match:
            return proc, match.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"the app did not start: {log.read_text()[-2000:]}")


def fire(url: str, source: Path, n: int, frames: int) -> tuple[list[float], float]:
    """N concurrent interpolation requests; returns each one's latency and the time to the last answer."""
    from gradio_client import Client, handle_file

    clients = [Client(url, verbose=False) for _ in range(n)]

    def one(i: int) -> float:
        tic = time.perf_counter()
        clients[i].predict(handle_file(str(source)), "seed", "regular", i, None, "seed", "italic", i + 1, None,
                           frames, "lerp", api_name="/interpolate")
        return time.perf_counter() - tic

    tic = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        latencies = list(pool.map(one, range(n)))
    return latencies, time.perf_counter() - tic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a run directory (default: a random model of --config)")
    parser.add_argument("--config", default="configs/glyphs.yaml")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 10, 30])
    parser.add_argument("--frames", type=int, default=20)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="i2i-load-"))
    run = Path(args.checkpoint) if args.checkpoint else random_run(tmp / "run", args.config)
    source = tmp / "source.png"
    Image.fromarray((np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)).save(source)
    rows = []
    for batch in (False, True):
        proc, url = serve(run, batch, tmp / f"app_{batch}.log")
        try:
            fire(url, source, 1, args.frames)  # warm-up
            for n in args.clients:
                latencies, total = fire(url, source, n, args.frames)
                rows.append((("batched" if batch else "one at a time"), n, statistics.median(latencies),
                             max(latencies), total, n / total))
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    print(f"{args.frames}-frame interpolations, model {run}, {os.cpu_count()} CPU cores")
    print("| serving | concurrent requests | median latency s | max latency s | time to last answer s | requests/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for mode, n, median, worst, total, rps in rows:
        print(f"| {mode} | {n} | {median:.2f} | {worst:.2f} | {total:.2f} | {rps:.2f} |")


if __name__ == "__main__":
    main()
