"""Locates third-party pretrained weights (``--weights-dir``, the libraries' caches; fetched on first use when
online, see :mod:`i2i.weights`) and builds LPIPS honestly.

A missing file that cannot be fetched is an error naming the file, the folder and the fetch command; random
weights are used only where the caller asks for them (or, for the app's PS display, allows a loud fallback).
"""
from __future__ import annotations

import logging
import os
import shutil
import warnings
from pathlib import Path

import torch

from .weights import MissingWeightsError, by_filename, fetch, hub_checkpoints_dir  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"
RANDOM_WEIGHTS = "random-weights"  # the label every number computed on random third-party weights carries


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


def require_weights(filename: str, what: str, weights_dir: str | Path | None = None,
                    folder: Path | None = None) -> Path:
    """Path of a pretrained weights file: found locally, or fetched from its official URL (or the mirror) into
    the folder its library reads. MissingWeightsError naming the file, the folder and the fetch command when
    neither works."""
    path = find_weights(filename, weights_dir, folder)
    if path is not None:
        return path
    entry = by_filename(filename)
    if entry is None:
        raise MissingWeightsError(f"{what} weights not found: put {filename} in {folder or hub_checkpoints_dir()}")
    log.info("%s weights (%s) not found locally: fetching %s", what, filename, entry.url)
    try:
        return fetch(entry)
    except MissingWeightsError as err:
        raise MissingWeightsError(f"{what} weights: {err}; or pass --random-weights to compute numbers labelled "
                                  f"{RANDOM_WEIGHTS}") from None


def build_lpips(random_weights: bool = False, allow_random_fallback: bool = False,
                weights_dir: str | Path | None = None, seed: int = 0) -> tuple[torch.nn.Module, str]:
    """LPIPS (AlexNet trunk, v0.1 linear heads shipped with the ``lpips`` package), frozen and in eval mode.

    Returns ``(module, provenance)`` with provenance ``"pretrained"`` or ``"random-weights"``. Without
    the AlexNet file (``alexnet-owt-7be5be79.pth`` in ``$TORCH_HOME/hub/checkpoints``, fetched when online) it
    raises MissingWeightsError, or falls back to a random trunk with a loud warning when ``allow_random_fallback``
    (the app's PS display only; training and evaluation never do). A random
    trunk is drawn from ``seed`` (the global RNG is left untouched), so random-weights numbers repeat.
    """
    import lpips

    if not random_weights:
        try:
            require_weights(ALEXNET_FILE, "LPIPS AlexNet trunk", weights_dir)
        except MissingWeightsError as err:
            if not allow_random_fallback:
                raise
            log.warning("!" * 20 + " %s. FALLING BACK TO A RANDOM ALEXNET TRUNK: LPIPS is then not a perceptual "
                        "distance. " + "!" * 20, err)
            random_weights = True
    with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
        warnings.simplefilter("ignore", UserWarning)  # torchvision's notes about lpips' `pretrained=` call
        torch.manual_seed(seed)
        net = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=random_weights, verbose=False)
    net.eval().requires_grad_(False)
    return net, RANDOM_WEIGHTS if random_weights else "pretrained"
