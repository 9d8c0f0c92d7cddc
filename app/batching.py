"""Concurrent requests decoded together: a small micro-batching queue in front of the Translator."""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field

import torch

from i2i.inference import Translator


@dataclass
class _Job:
    source: torch.Tensor  # (3, S, S) in [-1, 1]
    styles: torch.Tensor  # (K, D)
    done: threading.Event = field(default_factory=threading.Event)
    frames: torch.Tensor | None = None
    error: BaseException | None = None


class DecodeBatcher:
    """Decode the frames of concurrent requests in one generator call.

    Each request thread calls :meth:`decode` with its source and its K styles and blocks until its frames are ready.
    One worker thread takes the first waiting job, gathers the jobs that arrive within ``max_wait_s`` (up to
    ``max_rows`` style rows in all), encodes their sources in one batch and decodes all their rows together
    (:meth:`i2i.inference.Translator.decode_rows`), then hands each request its frames. A request alone waits at most
    ``max_wait_s`` more than it would without the queue; a failure of the batch is raised in each of its requests.
    """

    def __init__(self, translator: Translator, max_rows: int = 400, max_wait_s: float = 0.01):
        self.translator, self.max_rows, self.max_wait_s = translator, max_rows, max_wait_s
        self.jobs: queue.Queue[_Job] = queue.Queue()
        self.batches = 0  # how many generator calls served how many requests: for the load benchmark's log
        self.requests = 0
        threading.Thread(target=self._serve, name="i2i-decode-batcher", daemon=True).start()

    def decode(self, source: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
        """Frames (K, 3, S, S) in [-1, 1] of ``source`` (3, S, S) under ``styles`` (K, D)."""
        job = _Job(source, styles)
        self.jobs.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.frames

    def _gather(self) -> list[_Job]:
        jobs = [self.jobs.get()]
        rows, deadline = len(jobs[0].styles), time.monotonic() + self.max_wait_s
        while rows < self.max_rows:
            try:
                job = self.jobs.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            jobs.append(job)
            rows += len(job.styles)
        return jobs

    def _serve(self) -> None:
        while True:
            jobs = self._gather()
            try:
                counts = torch.tensor([len(j.styles) for j in jobs])
                owners = torch.arange(len(jobs)).repeat_interleave(counts)
                frames = self.translator.decode_rows(torch.stack([j.source for j in jobs]),
                                                     torch.cat([j.styles for j in jobs]), owners).cpu()
                for job, part in zip(jobs, frames.split(counts.tolist())):
                    job.frames = part
            except BaseException as err:  # the requests of the batch get the error; the worker keeps serving
                for job in jobs:
                    job.error = err
            self.batches += 1
            self.requests += len(jobs)
            for job in jobs:
                job.done.set()
