"""The training loop behind ``i2i train``: data, resume, logging, sample grids, checkpoints, Ctrl-C."""
from __future__ import annotations

import contextlib
import logging
import math
import signal
import time
from pathlib import Path

import torch
from tqdm import tqdm

from i2i.config import Config, config_to_dict, load_config, save_config
from i2i.kinds import model_kind
from i2i.rundir import CONFIG_FILE, DOMAINS_FILE, LOCK_FILE, exclusive_writer, read_domains, write_domains
from i2i.training import distributed
from i2i.training.checkpoint import (CorruptCheckpointError, complete_checkpoints, latest_checkpoint, load_checkpoint,
                                     remove_partial_saves, save_checkpoint, set_aside)
from i2i.training.distributed import DistInfo, all_reduce_mean
from i2i.training.logger import RunLogger
from i2i.training.trainer import TrainerBase

log = logging.getLogger(__name__)


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; the run stopped without saving the bad state."""


class StopRequest:
    """First Ctrl-C (SIGINT) asks the loop to stop after the current iteration; a second one aborts."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        log.warning("stop requested: finishing this iteration and saving a checkpoint (Ctrl-C again aborts)")

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self._previous)


def prepare_run_dir(cfg: Config, run_dir: Path, domains: list[str], resume: bool, overwrite: bool = False) -> None:
    """Create the run dir and write config.yaml and domains.json; refuse to overwrite another run's work.

    A new run (no ``resume``) needs an empty or new folder: files there (a user's config, an earlier run's log)
    are replaced only with ``overwrite``; checkpoints never are (``--resume`` continues them).
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume and not overwrite:
        present = sorted(p.name for p in run_dir.iterdir() if p.name != LOCK_FILE)
        if present and latest_checkpoint(run_dir) is None:
            shown = ", ".join(present[:4]) + (", ..." if len(present) > 4 else "")
            raise FileExistsError(f"{run_dir} is not empty ({shown}): choose a new --run-dir, or pass --overwrite to "
                                  "start a run there (its files config.yaml, domains.json and log.jsonl are replaced)")
    if (run_dir / DOMAINS_FILE).exists() and not overwrite:
        saved = read_domains(run_dir)
        if saved != domains:
            raise ValueError(f"{run_dir} was trained on domains {saved}, but {cfg.data.root} has {domains}")
    if not resume and latest_checkpoint(run_dir) is not None:
        raise FileExistsError(f"{run_dir} already holds checkpoints: pass --resume to continue it, "
                              "or choose another --run-dir")
    if overwrite and not resume:
        (run_dir / "log.jsonl").unlink(missing_ok=True)
    if resume and (run_dir / CONFIG_FILE).exists():
        saved_model = config_to_dict(load_config(run_dir / CONFIG_FILE))["model"]
        model = config_to_dict(cfg)["model"]
        diff = {k: (v, model[k]) for k, v in saved_model.items() if model[k] != v}
        if diff:
            raise ValueError(f"cannot resume {run_dir}: model config differs from the saved one "
                             + ", ".join(f"model.{k}: saved {a!r}, now {b!r}" for k, (a, b) in diff.items()))
    save_config(cfg, run_dir / CONFIG_FILE)
    write_domains(run_dir, domains)


def resume_training(trainer: TrainerBase, run_dir: Path, info: DistInfo = DistInfo()) -> int:
    """Load the newest complete checkpoint that reads back into ``trainer`` and return its step (0: none).

    A truncated, corrupt or unsafe checkpoint is moved aside (``corrupt_step_*``, by rank 0) with a warning
    and the previous one is tried, so a broken save never strands a run and newer files are never
    overwritten by the resumed run. A checkpoint that reads but does not fit the networks is an error.
    """
    for ckpt in complete_checkpoints(run_dir):
        try:
            state = load_checkpoint(ckpt, trainer.nets, trainer.ema)
        except CorruptCheckpointError as err:
            if info.is_main:
                log.warning("%s; moved the checkpoint to %s and trying the previous one", err, set_aside(ckpt).name)
            continue
        trainer.load_state_dict(state)
        log.info("resumed from %s (step %d)", ckpt, int(state["step"]))
        return int(state["step"])
    log.info("no readable checkpoint in %s: starting from scratch", run_dir)
    return 0


def _mean_terms(history: list[dict[str, torch.Tensor]], info: DistInfo = DistInfo()) -> dict[str, float]:
    keys = list(dict.fromkeys(k for h in history for k in h))  # a TUNIT warm-up step has no D/G terms
    stacked = torch.stack([torch.stack([h[k] for h in history if k in h]).mean() for k in keys])
    return dict(zip(keys, all_reduce_mean(stacked, info).tolist()))  # one host sync per log interval


def train(cfg: Config, run_dir: str | Path, resume: bool = False, progress: bool = True,
          overwrite: bool = False) -> Path:
    """Train (or resume) a model; return the path of the final checkpoint (None when ``train.total_iters`` is 0).
    ``overwrite``: start a new run in a folder that holds files but no checkpoints.

    Under ``torchrun`` every rank runs this function: ``train.batch_size`` is the global batch, split into
    equal contiguous slices per rank (it must divide by the world size); rank 0 alone writes the run
    directory, logs, sample grids and checkpoints; every rank resumes from the same checkpoint, so the
    world size may change between runs. See :mod:`i2i.training.distributed` for how gradients are synced.
    """
    info, device = distributed.setup(cfg.train.device)
    try:
        with exclusive_writer(run_dir, "i2i train") if info.is_main else contextlib.nullcontext():
            return _train(cfg, Path(run_dir), resume, progress and info.is_main, info, device, overwrite)
    finally:
        distributed.cleanup()


def _train(cfg: Config, run_dir: Path, resume: bool, progress: bool, info: DistInfo, device: torch.device,
           overwrite: bool = False) -> Path:
    t = cfg.train
    if t.batch_size % info.world_size:
        raise ValueError(f"train.batch_size={t.batch_size} (the global batch) must divide by the world size "
                         f"{info.world_size}")
    torch.manual_seed(t.seed)  # identical initial networks on every rank (rank 0's are broadcast anyway)
    mode: type[TrainerBase] = model_kind(cfg.model).trainer_class()
    images, val = mode.load_data(cfg, progress)
    domains = mode.domain_names(cfg, images)
    tracker = None
    if t.eval_every and info.is_main:  # before anything is written: a best_metric the data cannot give is an error
        from i2i.training.best_checkpoint import BestCheckpoint  # imports the evaluation package: only when asked for

        tracker = BestCheckpoint(cfg, run_dir, domains)
    if info.is_main:
        prepare_run_dir(cfg, run_dir, domains, resume, overwrite)
        for folder in remove_partial_saves(run_dir):
            log.warning("removed %s, left by an interrupted save", folder)
    distributed.barrier(info)
    trainer = mode(cfg, len(domains), device, info)
    if info.is_main:
        trainer.write_run_files(run_dir)
    start = resume_training(trainer, run_dir, info) if resume else 0
    torch.manual_seed(t.seed + 1000 * info.rank + start)  # per-rank stream for anything random inside a step
    if info.is_main:
        log.info("training on %s x %d: %d images, %s %s, LPIPS %s", device, info.world_size, len(images),
                 trainer.domain_kind, domains, trainer.lpips_provenance)
    batches = trainer.batches(images, info.rank, info.world_size)
    workers = cfg.data.num_workers
    loader = torch.utils.data.DataLoader(
        batches, batch_size=None, sampler=range(start, t.total_iters), num_workers=workers,
        pin_memory=device.type == "cuda", persistent_workers=workers > 0, prefetch_factor=4 if workers else None)
    return TrainingLoop(cfg, run_dir, trainer, val, info, start, progress, tracker).run(loader)


class TrainingLoop:
    """The state of one run between iterations (step, unlogged loss terms, last checkpoint) and its periodic
    jobs: logging with the NaN check, sample grids, checkpoints, Ctrl-C."""

    def __init__(self, cfg: Config, run_dir: Path, trainer: TrainerBase, val, info: DistInfo, start: int,
                 progress: bool, tracker=None):
        self.cfg, self.run_dir, self.trainer, self.val, self.info = cfg, run_dir, trainer, val, info
        self.tracker = tracker  # rank 0's BestCheckpoint when train.eval_every > 0
        self.start = self.step = start
        self.logger = RunLogger(run_dir, start) if info.is_main else None
        self.history: list[dict[str, torch.Tensor]] = []
        self.last_saved = latest_checkpoint(run_dir)
        self.bar = tqdm(total=cfg.train.total_iters, initial=start, desc="train", unit="it", disable=not progress,
                        dynamic_ncols=True)

    def flush(self) -> dict[str, float]:
        """Mean loss terms since the last flush (all ranks); NonFiniteLossError if any is NaN or infinite."""
        if not self.history:
            return {}
        means = _mean_terms(self.history, self.info)
        self.history.clear()
        bad = [k for k, v in means.items() if not math.isfinite(v)]
        if bad:
            raise NonFiniteLossError(f"non-finite loss at or before step {self.step}: {', '.join(bad)}. Stopped "
                                     f"without saving; last good checkpoint: {self.last_saved or 'none'} (resume "
                                     "with --resume, e.g. with a lower learning rate or amp off)")
        return means

    def log(self) -> None:
        means = self.flush()
        if means and self.logger is not None:
            means.update(self.trainer.logged_weights(self.step - 1))
            self.logger.scalars(self.step, means)
            self.bar.set_postfix({k: f"{means[v]:.3f}" for k, v in self.trainer.progress_keys.items() if v in means})

    def save(self) -> None:
        """Log (which checks the losses), check the ranks agree, write a checkpoint (rank 0)."""
        self.log()
        distributed.check_in_sync(dict(self.trainer.nets.items()), self.info)
        if self.info.is_main:
            self.last_saved = save_checkpoint(self.run_dir, self.step, self.trainer.nets, self.trainer.ema,
                                              self.trainer.state_dict(), self.cfg.train.keep_checkpoints)
        distributed.barrier(self.info)

    def evaluate(self, seconds: float) -> None:
        """Score the EMA model just saved (rank 0) and log the means; the other ranks wait."""
        if self.tracker is not None:
            with torch.random.fork_rng(devices=[]):  # the run's random stream is the same with or without it
                values = self.tracker(self.trainer.ema, self.trainer.device, self.step, self.last_saved, seconds)
            self.logger.scalars(self.step, values)
        distributed.barrier(self.info)

    def samples(self) -> None:
        grids, scalars = self.trainer.samples(self.val, self.run_dir / "samples", self.step)
        for name, grid in grids.items():
            self.logger.image(f"samples/{name}", self.step, grid.cpu())
        if scalars:
            self.logger.scalars(self.step, scalars)

    def run(self, loader) -> Path:
        """Train over ``loader``'s batches; return the last checkpoint."""
        t, tic = self.cfg.train, time.perf_counter()
        with StopRequest() as stop:
            for batch in loader:
                batch = self.trainer.to_device(batch)
                self.history.append(self.trainer.train_step(batch, self.step))
                self.step += 1
                self.bar.update()
                if self.step % t.log_every == 0:
                    self.log()
                if self.info.is_main and (self.step % t.sample_every == 0 or self.step == t.total_iters):
                    self.samples()
                evaluating = t.eval_every and self.step % t.eval_every == 0
                if self.step % t.save_every == 0 or self.step == t.total_iters or evaluating:
                    self.save()
                if evaluating:
                    self.evaluate(time.perf_counter() - tic)
                if stop.requested:
                    self.save()
                    log.warning("stopped at step %d; checkpoint %s (continue with --resume)", self.step,
                                self.last_saved)
                    break
        self.bar.close()
        if self.logger is not None:
            seconds = (time.perf_counter() - tic) / max(1, self.step - self.start)
            self.logger.scalars(self.step, {"time/seconds_per_iter": seconds})
            self.logger.close()
        return self.last_saved
