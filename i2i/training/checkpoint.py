"""Checkpoint IO: atomic run-directory checkpoints with safetensors weights and a weights-only state file.

Layout of one checkpoint ``RUN/checkpoints/step_0001000/``:
``nets.safetensors`` (G, M, E, D), ``nets_ema.safetensors`` (EMA G, M, E: what inference uses) and
``state.pt`` (optimiser and grad-scaler states, iteration; loaded with ``weights_only=True``).
``RUN/checkpoints/latest`` names the newest complete checkpoint.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..models import Networks

NETS_FILE, EMA_FILE, STATE_FILE, LATEST = "nets.safetensors", "nets_ema.safetensors", "state.pt", "latest"


class CheckpointMismatchError(ValueError):
    """A checkpoint's tensors do not fit the configured networks."""


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
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp_step_{step:07d}_", dir=root))
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


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The checkpoint folder named by ``RUN/checkpoints/latest``, or None when there is none."""
    root = Path(run_dir) / "checkpoints"
    pointer = root / LATEST
    if not pointer.is_file():
        return None
    path = root / pointer.read_text().strip()
    return path if (path / STATE_FILE).is_file() else None


def load_checkpoint(path: str | Path, nets: Networks | None = None, ema: Networks | None = None) -> dict:
    """Load weights of a checkpoint folder into ``nets``/``ema`` (either may be None); return its state."""
    path = Path(path)
    if nets is not None:
        load_flat_state(nets, load_file(str(path / NETS_FILE)), str(path / NETS_FILE))
    if ema is not None:
        load_flat_state(ema, load_file(str(path / EMA_FILE)), str(path / EMA_FILE))
    state_file = path / STATE_FILE
    return torch.load(state_file, map_location="cpu", weights_only=True) if state_file.is_file() else {}
