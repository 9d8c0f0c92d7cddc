"""CPU threads for a machine that is rarely idle: one intra-op thread per core that is idle when a command starts.

Measured on 2 cores with the glyph quick start (``python benchmarks/busy_neighbour.py``, docs/benchmarks.md): with
torch's two threads, one busy single-threaded neighbour makes a training step 3.6x slower, because the threads wait
for each other at every parallel region while the neighbour holds a core. One thread beside the neighbour loses
almost nothing, and two threads alone are 1.3x faster than one. So a command counts the cores that are busy at its
start and uses the rest. ``OMP_WAIT_POLICY=PASSIVE`` was measured too and left out: it halves the cost of a
neighbour that starts later, but makes every step 1.45x slower on an idle machine. A user's ``OMP_NUM_THREADS``
always wins.
"""
from __future__ import annotations

import os
import time


def busy_cores(samples: int = 5, interval: float = 0.01) -> float:
    """Runnable tasks other than this one, averaged over a few reads of ``/proc/loadavg`` (0 where unreadable)."""
    counts = []
    for _ in range(samples):
        try:
            with open("/proc/loadavg") as f:
                counts.append(int(f.read().split()[3].split("/")[0]) - 1)
        except (OSError, ValueError, IndexError):
            return 0.0
        time.sleep(interval)
    return max(0.0, sum(counts) / len(counts))


def idle_core_threads() -> int:
    """One thread per core that is idle now (at least one), of the cores this process may run on."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, cores - round(busy_cores())))


def choose_threads() -> int | None:
    """Set torch's intra-op threads to :func:`idle_core_threads` unless ``OMP_NUM_THREADS`` is set; returns the
    number set (None: left to the user's setting)."""
    if os.environ.get("OMP_NUM_THREADS"):
        return None
    import torch

    n = idle_core_threads()
    torch.set_num_threads(n)
    return n
