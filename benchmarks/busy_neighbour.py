"""Seconds per training iteration alone and beside one busy single-threaded process, per threading setting, as one
table: what a user's busy CPU costs, and what ``i2i``'s default (one thread per core idle at the start,
:mod:`i2i.threads`) saves.

Example: python benchmarks/busy_neighbour.py --config configs/glyphs.yaml --data data/glyphs --iters 30

Each row trains ``--iters`` iterations with ``i2i train`` in a fresh process (data loading and the first iteration
excluded: the log's per-iteration time covers iterations 2 onwards) under the row's environment, with the config's own
data-loader workers, once alone and once while a pure-Python busy loop runs beside it.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = {  # row -> extra environment of the training process
    "torch defaults (all cores)": {"OMP_NUM_THREADS": str(os.cpu_count())},
    "OMP_WAIT_POLICY=PASSIVE, all cores": {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": str(os.cpu_count())},
    "OMP_NUM_THREADS=1": {"OMP_NUM_THREADS": "1"},
    "i2i default (idle cores at start)": {},
}
BUSY_LOOP = "import time\nend = time.time() + 3600\nwhile time.time() < end:\n    pass\n"


def seconds_per_iter(config: str, data: str, iters: int, env: dict) -> float:
    """Mean seconds per iteration of a fresh ``i2i train`` run, from its log's first and last records."""
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        environment = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
        environment.update(env)
        subprocess.run([sys.executable, "-m", "i2i", "train", "--config", config, "--run-dir", str(run), "--no-progress",
                        "--set", f"data.root={data}", "--set", f"train.total_iters={iters}", "--set", "train.log_every=1",
                        "--set", "train.eval_every=0", "--set", "train.best_metric=",
                        "--set", f"train.sample_every={iters + 1}", "--set", f"train.save_every={iters + 1}"],
                       check=True, env=environment, capture_output=True)
        log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
        steps = [r for r in log if "time" in r and "time/seconds_per_iter" not in r]
        return (steps[-1]["time"] - steps[0]["time"]) / (steps[-1]["step"] - steps[0]["step"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/glyphs.yaml")
    parser.add_argument("--data", default="data/glyphs")
    parser.add_argument("--iters", type=int, default=30)
    args = parser.parse_args()
    rows = []
    for name, env in SETTINGS.items():
        alone = seconds_per_iter(args.config, args.data, args.iters, env)
        busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
        try:
            time.sleep(1.0)
            beside = seconds_per_iter(args.config, args.data, args.iters, env)
        finally:
            busy.kill()
            busy.wait()
        rows.append((name, alone, beside))
        print(f"{name}: alone {alone:.3f} s/it, beside a busy process {beside:.3f} s/it", flush=True)
    best_alone = min(r[1] for r in rows)
    print(f"\n{os.cpu_count()} cores; {args.config} on {args.data}, {args.iters} iterations per run\n")
    print("| threading | alone s/it | beside a busy process s/it | slowdown by the neighbour | vs the fastest alone |")
    print("|---|---:|---:|---:|---:|")
    for name, alone, beside in rows:
        print(f"| {name} | {alone:.3f} | {beside:.3f} | {beside / alone:.2f}x | {beside / best_alone:.2f}x |")


if __name__ == "__main__":
    main()
