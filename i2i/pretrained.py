"""Locates third-party pretrained weights (torch hub cache, ``--weights-dir``) and builds LPIPS honestly.

Nothing here downloads silently on an offline machine: a missing file is either an error naming the
file and the folder to put it in, or (only where the caller allows it) a loud random-weights fallback.
"""
from __future__ import annotations

import logging
import os
import shutil
import warnings
from pathlib import Path

import torch

log = logging.getLogger(__name__)

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"
RANDOM_WEIGHTS = "random-weights"  # the label every number computed on random third-party weights carries


class MissingWeightsError(FileNotFoundError):
    """A pretrained weights file is not available locally."""


def hub_checkpoints_dir() -> Path:
    """``$TORCH_HOME/hub/checkpoints`` (torchvision and pytorch-fid cache their downloads there)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def find_weights(filename: str, weights_dir: str | Path | None = None, folder: Path | None = None) -> Path | None:
    """Return the path of ``filename`` in ``weights_dir`` or the cache ``folder``, else None.

    A file found in ``weights_dir`` is linked (or copied) into the cache folder so that libraries which
    only look there (torchvision, pytorch-fid) load it.
    """
    folder = folder or hub_checkpoints_dir()
    cached = folder / filename
    if weights_dir is not None:
        candidate = Path(weights_dir) / filename
        if candidate.is_file():
            if not cached.exists():
                folder.mkdir(parents=True, exist_ok=True)
                try:
                    os.symlink(candidate.resolve(), cached)
                except OSError:
                    shutil.copyfile(candidate, cached)
            return candidate
    return cached if cached.is_file() else None


def missing_message(filename: str, what: str, folder: Path | None = None) -> str:
    """One clear sentence saying which file to put where."""
    folder = folder or hub_checkpoints_dir()
    return f"{what} weights not found: put {filename} in {folder}"


def require_weights(filename: str, what: str, weights_dir: str | Path | None = None,
                    folder: Path | None = None) -> Path:
    """Path of a pretrained weights file, or MissingWeightsError naming the file, the folder and the options."""
    path = find_weights(filename, weights_dir, folder)
    if path is None:
        raise MissingWeightsError(missing_message(filename, what, folder) + " (or in the folder given with "
                                  "--weights-dir), or pass --random-weights to compute numbers labelled "
                                  "random-weights")
    return path


def build_lpips(random_weights: bool = False, allow_random_fallback: bool = True,
                weights_dir: str | Path | None = None, seed: int = 0) -> tuple[torch.nn.Module, str]:
    """LPIPS (AlexNet trunk, v0.1 linear heads shipped with the ``lpips`` package), frozen and in eval mode.

    Returns ``(module, provenance)`` with provenance ``"pretrained"`` or ``"random-weights"``. Without
    the AlexNet file (``alexnet-owt-7be5be79.pth`` in ``$TORCH_HOME/hub/checkpoints``) it falls back to
    a random trunk with a loud warning when ``allow_random_fallback``, and raises otherwise. A random
    trunk is drawn from ``seed`` (the global RNG is left untouched), so random-weights numbers repeat.
    """
    import lpips

    if not random_weights and find_weights(ALEXNET_FILE, weights_dir) is None:
        message = missing_message(ALEXNET_FILE, "LPIPS AlexNet trunk")
        if not allow_random_fallback:
            require_weights(ALEXNET_FILE, "LPIPS AlexNet trunk", weights_dir)
        log.warning("!" * 20 + " %s. FALLING BACK TO A RANDOM ALEXNET TRUNK: the LPIPS content loss "
                    "is then not a perceptual distance. " + "!" * 20, message)
        random_weights = True
    with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
        warnings.simplefilter("ignore", UserWarning)  # torchvision's notes about lpips' `pretrained=` call
        torch.manual_seed(seed)
        net = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=random_weights, verbose=False)
    net.eval().requires_grad_(False)
    return net, RANDOM_WEIGHTS if random_weights else "pretrained"
