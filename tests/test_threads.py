"""Threading default: one thread per core idle at the start, unless OMP_NUM_THREADS says otherwise."""
from __future__ import annotations

import torch

from i2i import threads


def test_threads_follow_idle_cores_and_the_users_settings_win(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        for busy, expected in ((0.0, 4), (1.2, 3), (3.6, 1), (9.0, 1)):
            monkeypatch.setattr(threads, "busy_cores", lambda busy=busy: busy)
            assert threads.choose_threads() == expected and torch.get_num_threads() == expected
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        assert threads.choose_threads() is None
    finally:
        torch.set_num_threads(before)


def test_busy_cores_reads_the_run_queue():
    assert 0.0 <= threads.busy_cores(samples=2, interval=0.0) < 1000
