"""The training loop behind ``i2i train``: data, resume, logging, sample grids, checkpoints, Ctrl-C."""
from __future__ import annotations

import json
import logging
import math
import signal
import time
from pathlib import Path

import torch
from safetensors.torch import save_file
from tqdm import tqdm

from ..config import Config, config_to_dict, load_config, save_config
from ..data import DatasetLayoutError, DomainImages, TrainBatches
from ..models.fan import FAN_FILE
from . import distributed
from .checkpoint import (CorruptCheckpointError, complete_checkpoints, latest_checkpoint, load_checkpoint,
                         remove_partial_saves, save_checkpoint, set_aside)
from .distributed import DistInfo, all_reduce_mean
from .logger import RunLogger
from .samples import write_sample_grids
from .trainer import Trainer

log = logging.getLogger(__name__)


def to_device(x: torch.Tensor, device: torch.device, channels_last: bool = False) -> torch.Tensor:
    """Move one batch tensor to the device (asynchronously from pinned memory), images NHWC if asked."""
    x = x.to(device, non_blocking=True)
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.dim() == 4 else x


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


def prepare_run_dir(cfg: Config, run_dir: Path, domains: list[str], resume: bool) -> None:
    """Create the run dir and write config.yaml and domains.json; refuse to overwrite another run's work."""
    run_dir.mkdir(parents=True, exist_ok=True)
    domains_file = run_dir / "domains.json"
    if domains_file.exists():
        saved = json.loads(domains_file.read_text())["domains"]
        if saved != domains:
            raise ValueError(f"{run_dir} was trained on domains {saved}, but {cfg.data.root} has {domains}")
    if not resume and latest_checkpoint(run_dir) is not None:
        raise FileExistsError(f"{run_dir} already holds checkpoints: pass --resume to continue it, "
                              "or choose another --run-dir")
    if resume and (run_dir / "config.yaml").exists():
        saved_model = config_to_dict(load_config(run_dir / "config.yaml"))["model"]
        model = config_to_dict(cfg)["model"]
        diff = {k: (v, model[k]) for k, v in saved_model.items() if model[k] != v}
        if diff:
            raise ValueError(f"cannot resume {run_dir}: model config differs from the saved one "
                             + ", ".join(f"model.{k}: saved {a!r}, now {b!r}" for k, (a, b) in diff.items()))
    save_config(cfg, run_dir / "config.yaml")
    domains_file.write_text(json.dumps({"domains": domains}, indent=2))


def resume_training(trainer: Trainer, run_dir: Path, info: DistInfo = DistInfo()) -> int:
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
    keys = list(history[0])
    stacked = torch.stack([torch.stack([h[k] for h in history]) for k in keys]).mean(1)
    return dict(zip(keys, all_reduce_mean(stacked, info).tolist()))  # one host sync per log interval


def train(cfg: Config, run_dir: str | Path, resume: bool = False, progress: bool = True) -> Path:
    """Train (or resume) a model; return the path of the final checkpoint.

    Under ``torchrun`` every rank runs this function: ``train.batch_size`` is the global batch, split into
    equal contiguous slices per rank (it must divide by the world size); rank 0 alone writes the run
    directory, logs, sample grids and checkpoints; every rank resumes from the same checkpoint, so the
    world size may change between runs. See :mod:`i2i.training.distributed` for how gradients are synced.
    """
    info, device = distributed.setup(cfg.train.device)
    try:
        return _train(cfg, Path(run_dir), resume, progress and info.is_main, info, device)
    finally:
        distributed.cleanup()


def _train(cfg: Config, run_dir: Path, resume: bool, progress: bool, info: DistInfo, device: torch.device) -> Path:
    t = cfg.train
    if t.batch_size % info.world_size:
        raise ValueError(f"train.batch_size={t.batch_size} (the global batch) must divide by the world size "
                         f"{info.world_size}")
    torch.manual_seed(t.seed)  # identical initial networks on every rank (rank 0's are broadcast anyway)
    images = DomainImages(cfg.data.root, "train", cfg.model.img_size, cfg.data.cache_images, progress)
    val_dir = Path(cfg.data.root) / "val"
    val = DomainImages(cfg.data.root, "val", cfg.model.img_size, cfg.data.cache_images, progress) \
        if val_dir.is_dir() else images
    if val.domains != images.domains:
        raise DatasetLayoutError(f"{val_dir} has domains {val.domains} but {Path(cfg.data.root) / 'train'} has "
                                 f"{images.domains}: val/ must hold the same domain folders as train/ (or be "
                                 "removed, and the sample grids use training images)")
    if info.is_main:
        prepare_run_dir(cfg, run_dir, images.domains, resume)
        for folder in remove_partial_saves(run_dir):
            log.warning("removed %s, left by an interrupted save", folder)
    distributed.barrier(info)
    trainer = Trainer(cfg, images.num_domains, device, info)
    if info.is_main and trainer.fan is not None and not (run_dir / FAN_FILE).is_file():  # inference needs it too
        save_file({k: v.contiguous().cpu() for k, v in trainer.fan.state_dict().items()}, str(run_dir / FAN_FILE))
    start = resume_training(trainer, run_dir, info) if resume else 0
    torch.manual_seed(t.seed + 1000 * info.rank + start)  # per-rank stream for anything random inside a step
    if info.is_main:
        log.info("training on %s x %d: %d images in %d domains %s, LPIPS %s", device, info.world_size, len(images),
                 images.num_domains, images.domains, trainer.lpips_provenance)

    batches = TrainBatches(images, t.batch_size, cfg.model.latent_dim, t.seed, cfg.data.randcrop_prob, t.total_iters,
                           info.rank, info.world_size)
    workers = cfg.data.num_workers
    loader = torch.utils.data.DataLoader(
        batches, batch_size=None, sampler=range(start, t.total_iters), num_workers=workers,
        pin_memory=device.type == "cuda", persistent_workers=workers > 0, prefetch_factor=4 if workers else None)
    logger = RunLogger(run_dir, start) if info.is_main else None
    history: list[dict[str, torch.Tensor]] = []
    step, last_saved = start, latest_checkpoint(run_dir)

    def flush() -> dict[str, float]:
        if not history:
            return {}
        means = _mean_terms(history, info)
        history.clear()
        bad = [k for k, v in means.items() if not math.isfinite(v)]
        if bad:
            raise NonFiniteLossError(f"non-finite loss at or before step {step}: {', '.join(bad)}. Stopped without "
                                     f"saving; last good checkpoint: {last_saved or 'none'} (resume with --resume, "
                                     "e.g. with a lower learning rate or amp off)")
        return means

    def save() -> None:
        nonlocal last_saved
        flush_and_log()
        distributed.check_in_sync(dict(trainer.nets.items()), info)
        if info.is_main:
            last_saved = save_checkpoint(run_dir, step, trainer.nets, trainer.ema, trainer.state_dict(),
                                         t.keep_checkpoints)
        distributed.barrier(info)

    def flush_and_log() -> None:
        means = flush()
        if means and logger is not None:
            w = trainer.weights(step - 1)
            means.update({"weight/ds": w.ds, "weight/sr": w.sr})
            logger.scalars(step, means)
            shown = {"D_real": "D/latent/real", "G_adv": "G/latent/adv", "cyc": "G/latent/cyc",
                     "tri": "G/latent/tri", "cont": "G/latent/cont"}
            bar.set_postfix({k: f"{means[v]:.3f}" for k, v in shown.items()})

    bar = tqdm(total=t.total_iters, initial=start, desc="train", unit="it", disable=not progress, dynamic_ncols=True)
    tic = time.perf_counter()
    with StopRequest() as stop:
        for batch in loader:
            batch = {k: to_device(v, device, t.channels_last) for k, v in batch.items()}
            history.append(trainer.train_step(batch, step))
            step += 1
            bar.update()
            if step % t.log_every == 0:
                flush_and_log()
            if info.is_main and (step % t.sample_every == 0 or step == t.total_iters):
                grids = write_sample_grids(trainer.ema, val, run_dir / "samples", step, cfg.model.latent_dim, device,
                                           trainer.fan)
                for name, grid in grids.items():
                    logger.image(f"samples/{name}", step, grid.cpu())
            if step % t.save_every == 0 or step == t.total_iters:
                save()
            if stop.requested:
                save()
                log.warning("stopped at step %d; checkpoint %s (continue with --resume)", step, last_saved)
                break
    bar.close()
    if logger is not None:
        logger.scalars(step, {"time/seconds_per_iter": (time.perf_counter() - tic) / max(1, step - start)})
        logger.close()
    return last_saved
