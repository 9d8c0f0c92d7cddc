"""Checkpoint IO: atomic run-directory checkpoints with safetensors weights and a weights-only state file.

Layout of one checkpoint ``RUN/checkpoints/step_0001000/``:
``nets.safetensors`` (G, M, E, D), ``nets_ema.safetensors`` (EMA G, M, E: what inference uses) and
``state.pt`` (optimiser and grad-scaler states, iteration; loaded with ``weights_only=True``).
``RUN/checkpoints/latest`` names the newest complete checkpoint.
"""
from __future__ import annotations

import logging
import os
import pickle
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..models import Networks

NETS_FILE, EMA_FILE, STATE_FILE, LATEST = "nets.safetensors", "nets_ema.safetensors", "state.pt", "latest"
PARTIAL_PREFIX, CORRUPT_PREFIX = ".tmp_step_", "corrupt_"

log = logging.getLogger(__name__)


class CheckpointMismatchError(ValueError):
    """A checkpoint's tensors do not fit the configured networks."""


class CorruptCheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupt, or not a weights-only file."""


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, or CorruptCheckpointError naming the file."""
    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise CorruptCheckpointError(f"{path} is missing") from None
    except Exception as err:  # safetensors raises SafetensorError / OSError for truncated or corrupt files
        raise CorruptCheckpointError(f"{path} is unreadable (truncated or corrupt: {err})") from None


def read_state(path: str | Path) -> dict:
    """A ``state.pt`` loaded with ``weights_only=True``; CorruptCheckpointError for unsafe or corrupt files."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CorruptCheckpointError(f"{path} is missing") from None
    except pickle.UnpicklingError as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CorruptCheckpointError(f"{path} was refused: it is not a weights-only file and could run code "
                                     f"when loaded ({reason})") from None
    except Exception as err:  # EOFError, zip errors of a truncated file
        raise CorruptCheckpointError(f"{path} is unreadable (truncated or corrupt: {type(err).__name__}: {err})") \
            from None


def flat_state(nets: Networks) -> dict[str, torch.Tensor]:
    """``{"generator.from_rgb.weight": tensor, ...}`` over the networks present (contiguous CPU copies)."""
    return {f"{name}.{k}": v.detach().cpu().contiguous() for name, net in nets.items()
            for k, v in net.state_dict().items()}


def describe_mismatch(model: nn.Module, state: dict[str, torch.Tensor], name: str) -> list[str]:
    """Human-readable differences between a module's state dict and ``state`` (by name and shape)."""
    own = model.state_dict()
    lines = [f"{name}.{k}: missing from the checkpoint" for k in own if k not in state]
    lines += [f"{name}.{k}: in the checkpoint but not in the model" for k in state if k not in own]
    lines += [f"{name}.{k}: shape {tuple(state[k].shape)} in the checkpoint, {tuple(v.shape)} in the model"
              for k, v in own.items() if k in state and state[k].shape != v.shape]
    return lines


def load_flat_state(nets: Networks, flat: dict[str, torch.Tensor], source: str) -> None:
    """Load ``flat_state``-style tensors into ``nets``; raise CheckpointMismatchError naming every difference."""
    problems = []
    per_net = {}
    for name, net in nets.items():
        prefix = name + "."
        part = {k[len(prefix):]: v for k, v in flat.items() if k.startswith(prefix)}
        problems += describe_mismatch(net, part, name)
        per_net[name] = part
    if problems:
        shown = "\n  ".join(problems[:12]) + (f"\n  ... and {len(problems) - 12} more" if len(problems) > 12 else "")
        raise CheckpointMismatchError(
            f"{source} does not fit the configured networks:\n  {shown}\n"
            "Check model.img_size, model.max_conv_dim, model.base_dim, model.style_dim, model.latent_dim, "
            "model.hidden_dim, model.w_hpf and the number of domains against the run's config.yaml.")
    for name, net in nets.items():
        net.load_state_dict(per_net[name])


def _write_atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_checkpoint(run_dir: str | Path, step: int, nets: Networks, ema: Networks, state: dict,
                    keep: int = 3) -> Path:
    """Write checkpoint ``step`` atomically (temp folder + rename), point ``latest`` at it, prune old ones."""
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step_{step:07d}"
    tmp = Path(tempfile.mkdtemp(prefix=f"{PARTIAL_PREFIX}{step:07d}_", dir=root))
    try:
        save_file(flat_state(nets), str(tmp / NETS_FILE))
        save_file(flat_state(ema), str(tmp / EMA_FILE))
        torch.save({**state, "step": step}, tmp / STATE_FILE)
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _write_atomic_text(root / LATEST, final.name + "\n")
    if keep > 0:
        for old in sorted(root.glob("step_*"))[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def complete_checkpoints(run_dir: str | Path) -> list[Path]:
    """Checkpoint folders holding all three files, newest first (interrupted saves never qualify)."""
    root = Path(run_dir) / "checkpoints"
    folders = [p for p in root.glob("step_*") if all((p / f).is_file() for f in (NETS_FILE, EMA_FILE, STATE_FILE))]
    return sorted(folders, key=lambda p: p.name, reverse=True)


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The checkpoint named by ``RUN/checkpoints/latest``; when that pointer is missing or names an incomplete
    or deleted folder, the newest complete checkpoint (with a warning); None when there is none."""
    root = Path(run_dir) / "checkpoints"
    pointer = root / LATEST
    complete = complete_checkpoints(run_dir)
    if pointer.is_file():
        named = root / pointer.read_text().strip()
        if named in complete:
            return named
        if complete:
            log.warning("%s names %s, which is not a complete checkpoint: using %s", pointer, named.name,
                        complete[0].name)
    return complete[0] if complete else None


def remove_partial_saves(run_dir: str | Path) -> list[Path]:
    """Delete the temporary folders of interrupted saves; return what was removed."""
    removed = sorted((Path(run_dir) / "checkpoints").glob(PARTIAL_PREFIX + "*"))
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    return removed


def set_aside(folder: Path) -> Path:
    """Rename a corrupt checkpoint to ``corrupt_<name>`` so it is kept for inspection but never resumed from,
    pruned or overwritten."""
    target = folder.with_name(CORRUPT_PREFIX + folder.name)
    n = 1
    while target.exists():
        target, n = folder.with_name(f"{CORRUPT_PREFIX}{folder.name}.{n}"), n + 1
    os.rename(folder, target)
    return target


def load_checkpoint(path: str | Path, nets: Networks | None = None, ema: Networks | None = None) -> dict:
    """Load weights of a checkpoint folder into ``nets``/``ema`` (either may be None); return its state."""
    path = Path(path)
    state_file = path / STATE_FILE
    state = read_state(state_file) if state_file.is_file() else {}  # first: an unsafe file touches no network
    if nets is not None:
        load_flat_state(nets, read_weights(path / NETS_FILE), str(path / NETS_FILE))
    if ema is not None:
        load_flat_state(ema, read_weights(path / EMA_FILE), str(path / EMA_FILE))
    return state
