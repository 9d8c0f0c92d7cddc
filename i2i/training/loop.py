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
from ..data import DomainImages, TrainBatches
from ..device import resolve_device
from ..models.fan import FAN_FILE
from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from .logger import RunLogger
from .samples import write_sample_grids
from .trainer import Trainer

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


def _mean_terms(history: list[dict[str, torch.Tensor]]) -> dict[str, float]:
    keys = list(history[0])
    stacked = torch.stack([torch.stack([h[k] for h in history]) for k in keys])  # one host sync
    return dict(zip(keys, stacked.mean(1).tolist()))


def train(cfg: Config, run_dir: str | Path, resume: bool = False, progress: bool = True) -> Path:
    """Train (or resume) a model; return the path of the final checkpoint."""
    run_dir = Path(run_dir)
    t = cfg.train
    device = resolve_device(t.device)
    torch.manual_seed(t.seed)
    images = DomainImages(cfg.data.root, "train", cfg.model.img_size, cfg.data.cache_images, progress)
    val_dir = Path(cfg.data.root) / "val"
    val = DomainImages(cfg.data.root, "val", cfg.model.img_size, cfg.data.cache_images, progress) \
        if val_dir.is_dir() else images
    prepare_run_dir(cfg, run_dir, images.domains, resume)
    trainer = Trainer(cfg, images.num_domains, device)
    if trainer.fan is not None and not (run_dir / FAN_FILE).is_file():  # inference on this run needs it too
        save_file({k: v.contiguous().cpu() for k, v in trainer.fan.state_dict().items()}, str(run_dir / FAN_FILE))
    start = 0
    ckpt = latest_checkpoint(run_dir) if resume else None
    if ckpt is not None:
        state = load_checkpoint(ckpt, trainer.nets, trainer.ema)
        trainer.load_state_dict(state)
        start = int(state["step"])
        log.info("resumed from %s (step %d)", ckpt, start)
    elif resume:
        log.info("no checkpoint in %s: starting from scratch", run_dir)
    log.info("training on %s: %d images in %d domains %s, LPIPS %s", device, len(images),
             images.num_domains, images.domains, trainer.lpips_provenance)

    batches = TrainBatches(images, t.batch_size, cfg.model.latent_dim, t.seed, cfg.data.randcrop_prob, t.total_iters)
    workers = cfg.data.num_workers
    loader = torch.utils.data.DataLoader(
        batches, batch_size=None, sampler=range(start, t.total_iters), num_workers=workers,
        pin_memory=device.type == "cuda", persistent_workers=workers > 0, prefetch_factor=4 if workers else None)
    logger = RunLogger(run_dir, start)
    history: list[dict[str, torch.Tensor]] = []
    step, last_saved = start, latest_checkpoint(run_dir)

    def flush() -> dict[str, float]:
        if not history:
            return {}
        means = _mean_terms(history)
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
        last_saved = save_checkpoint(run_dir, step, trainer.nets, trainer.ema, trainer.state_dict(), t.keep_checkpoints)

    def flush_and_log() -> None:
        means = flush()
        if means:
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
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            history.append(trainer.train_step(batch, step))
            step += 1
            bar.update()
            if step % t.log_every == 0:
                flush_and_log()
            if step % t.sample_every == 0 or step == t.total_iters:
                paths = write_sample_grids(trainer.ema, val, run_dir / "samples", step, cfg.model.latent_dim, device,
                                           trainer.fan)
                log.debug("wrote %s", paths)
            if step % t.save_every == 0 or step == t.total_iters:
                save()
            if stop.requested:
                save()
                log.warning("stopped at step %d; checkpoint %s (continue with --resume)", step, last_saved)
                break
    bar.close()
    logger.scalars(step, {"time/seconds_per_iter": (time.perf_counter() - tic) / max(1, step - start)})
    logger.close()
    return last_saved
