"""CPU threads for a machine that is rarely idle: OpenMP threads that sleep when they wait, and as many of them as
there are idle cores when a command starts.

Measured on 2 cores with one busy single-threaded neighbour (``benchmarks/busy_neighbour.py``): torch's defaults
(two threads that spin while they wait, ``OMP_WAIT_POLICY`` unset) made a training step about 30 times slower, since
the spinning threads and the neighbour take turns on the cores; passive waiting and one thread per idle core keep
the cost near the neighbour's fair share. A user's ``OMP_WAIT_POLICY`` / ``OMP_NUM_THREADS`` always win.
"""
from __future__ import annotations

import os
import time

WAIT_POLICY = "OMP_WAIT_POLICY"


def prefer_passive_waiting() -> None:
    """``OMP_WAIT_POLICY=PASSIVE`` unless set: must run before torch is imported (libgomp reads it when loaded)."""
    os.environ.setdefault(WAIT_POLICY, "PASSIVE")


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
