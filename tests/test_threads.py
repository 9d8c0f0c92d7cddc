"""Threading defaults: passive OpenMP waiting unless the user chose, one thread per idle core unless OMP_NUM_THREADS."""
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


def test_passive_waiting_is_a_default_not_an_override(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    threads.prefer_passive_waiting()
    assert threads.os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    threads.prefer_passive_waiting()
    assert threads.os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_busy_cores_reads_the_run_queue():
    assert 0.0 <= threads.busy_cores(samples=2, interval=0.0) < 1000
