"""Training checkpoints: atomic saves, weights-only state files, pruning, setting corrupt ones aside.

The layout and the reading side shared with inference live in :mod:`i2i.rundir`; ``state.pt`` holds the
optimiser and grad-scaler states and the iteration, loaded with ``weights_only=True``.
"""
from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file

from i2i.models import Networks
from i2i.rundir import (CHECKPOINT_PREFIX, CHECKPOINTS, CORRUPT_PREFIX, EMA_FILE, LATEST, NETS_FILE,  # noqa: F401
                        PARTIAL_PREFIX, STATE_FILE, CheckpointMismatchError, CorruptCheckpointError, apply_umask,
                        best_checkpoint, checkpoint_name, complete_checkpoints, flat_state, latest_checkpoint,
                        load_flat_state, read_weights, remove_stale_temp_files, write_text)

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


def save_checkpoint(run_dir: str | Path, step: int, nets: Networks, ema: Networks, state: dict,
                    keep: int = 3) -> Path:
    """Write checkpoint ``step`` atomically (temp folder + rename), point ``latest`` at it, prune old ones."""
    root = Path(run_dir) / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    final = root / checkpoint_name(step)
    tmp = Path(tempfile.mkdtemp(prefix=f"{PARTIAL_PREFIX}{checkpoint_name(step)}_", dir=root))
    try:
        apply_umask(tmp, directory=True)
        save_file(flat_state(nets), str(tmp / NETS_FILE))
        save_file(flat_state(ema), str(tmp / EMA_FILE))
        torch.save({**state, "step": step}, tmp / STATE_FILE)
        for name in (NETS_FILE, EMA_FILE, STATE_FILE):  # safetensors writes 0600 whatever the umask
            apply_umask(tmp / name)
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    write_text(root / LATEST, final.name + "\n")
    if keep > 0:
        best = best_checkpoint(run_dir)
        for old in sorted(root.glob(f"{CHECKPOINT_PREFIX}*"))[:-keep]:
            if old != best:  # the best checkpoint is kept whatever its age
                shutil.rmtree(old, ignore_errors=True)
    return final


def remove_partial_saves(run_dir: str | Path) -> list[Path]:
    """Delete the temporary folders of interrupted saves and the temporary files of interrupted atomic writes (a
    pointer, the best record, the config); return what was removed."""
    root = Path(run_dir) / CHECKPOINTS
    removed = sorted(root.glob(PARTIAL_PREFIX + "*"))
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    return removed + remove_stale_temp_files(root) + remove_stale_temp_files(run_dir)


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
