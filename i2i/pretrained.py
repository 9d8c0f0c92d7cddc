"""Locates third-party pretrained weights (``--weights-dir``, the libraries' caches; fetched on first use when
online, see :mod:`i2i.weights`), verifies them and loads them; builds LPIPS honestly.

Trust: a file is used only after :func:`i2i.weights.verify` accepts it (its sha256 against the registry), every
time it is used, wherever it lies (``--weights-dir``, the cache, a mirror), and it is then read with
``torch.load(weights_only=True)`` by this project: nothing is linked into a library's cache or handed to a library
that would unpickle it (torchvision's AlexNet loader uses ``weights_only=False``). A file that fails the check is
refused by name; a refused cache entry is replaced by a verified download when one can be made.

A missing file that cannot be fetched is an error naming the file, the folder and the fetch command; random
weights are used only where the caller asks for them (or, for the app's PS display, allows a loud fallback).
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch

from i2i.weights import (MissingWeightsError, WeightsHashError, by_filename, fetch, hub_checkpoints_dir,  # noqa: F401
                         load_state, verify)

log = logging.getLogger(__name__)

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"
RANDOM_WEIGHTS = "random-weights"  # the label every number computed on random third-party weights carries


def _refusal(path: Path) -> str:
    entry = by_filename(path.name)
    expected = f"sha256 {entry.sha256}..." if entry and entry.sha256 else "a weights-only checkpoint"
    return (f"{path} was refused: it is not the registry's {path.name} ({expected}); it was not loaded. Delete it "
            f"and run `i2i weights fetch {entry.name if entry else path.name}`")


def find_weights(filename: str, weights_dir: str | Path | None = None, folder: Path | None = None) -> Path | None:
    """The verified path of ``filename`` in ``weights_dir`` or the cache ``folder``, else None.

    A file in ``weights_dir`` that fails verification raises :class:`WeightsHashError` (the user pointed at it);
    one in the cache is skipped with a warning (so that a verified download can replace it).
    """
    folder = folder or hub_checkpoints_dir()
    entry = by_filename(filename)
    if weights_dir is not None:
        candidate = Path(weights_dir) / filename
        if candidate.is_file():
            if entry is not None and not verify(entry, candidate):
                raise WeightsHashError(_refusal(candidate))
            return candidate
    cached = folder / filename
    if not cached.is_file():
        return None
    if entry is not None and not verify(entry, cached):
        log.warning("%s", _refusal(cached))
        return None
    return cached


def require_weights(filename: str, what: str, weights_dir: str | Path | None = None,
                    folder: Path | None = None) -> Path:
    """Verified path of a pretrained weights file: found locally, or fetched from its official URL (or the
    mirror) into the folder its library reads. MissingWeightsError naming the file, the folder and the fetch
    command when neither works; WeightsHashError for a file that is not the registry's."""
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


def _load_alexnet_trunk(net: torch.nn.Module, state: dict[str, torch.Tensor], source: Path) -> None:
    """Copy torchvision AlexNet ``features.N.*`` tensors into LPIPS' trunk, whose slices keep torchvision's
    indices (``net.sliceK.N.*``)."""
    trunk = {}
    for name, _ in net.net.named_parameters():
        _, index, attr = name.split(".")
        key = f"features.{index}.{attr}"
        if key not in state:
            raise WeightsHashError(f"{source} lacks {key}: not torchvision's AlexNet")
        trunk[name] = state[key]
    net.net.load_state_dict(trunk)


def _load_lpips_heads(net: torch.nn.Module) -> None:
    """The v0.1 linear heads shipped inside the ``lpips`` package, read with ``weights_only=True``."""
    import lpips

    path = Path(lpips.__file__).parent / "weights" / "v0.1" / "alex.pth"
    heads = {k: v for k, v in load_state(path).items() if k.startswith("lin")}
    missing = [k for k in net.state_dict() if k.startswith("lin") and not k.startswith("lins.") and k not in heads]
    if missing:
        raise WeightsHashError(f"{path} lacks the LPIPS heads {missing[:3]}")
    net.load_state_dict(heads, strict=False)


def build_lpips(random_weights: bool = False, allow_random_fallback: bool = False,
                weights_dir: str | Path | None = None, seed: int = 0) -> tuple[torch.nn.Module, str]:
    """LPIPS (AlexNet trunk, v0.1 linear heads shipped with the ``lpips`` package), frozen and in eval mode.

    Returns ``(module, provenance)`` with provenance ``"pretrained"`` or ``"random-weights"``. Without
    the AlexNet file (``alexnet-owt-7be5be79.pth`` in ``--weights-dir`` or ``$TORCH_HOME/hub/checkpoints``,
    fetched when online) it raises MissingWeightsError, or falls back to a random trunk with a loud warning when
    ``allow_random_fallback`` (the app's PS display only; training and evaluation never do). The trunk is built
    random (drawn from ``seed``; the global RNG is left untouched, so random-weights numbers repeat) and the
    verified file is then loaded into it by this function, never by torchvision.
    """
    import lpips

    path = None
    if not random_weights:
        try:
            path = require_weights(ALEXNET_FILE, "LPIPS AlexNet trunk", weights_dir)
        except MissingWeightsError as err:
            if not allow_random_fallback:
                raise
            log.warning("!" * 20 + " %s. FALLING BACK TO A RANDOM ALEXNET TRUNK: LPIPS is then not a perceptual "
                        "distance. " + "!" * 20, err)
    with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
        warnings.simplefilter("ignore", UserWarning)  # torchvision's notes about lpips' `pretrained=` call
        torch.manual_seed(seed)
        net = lpips.LPIPS(net="alex", version="0.1", pretrained=False, pnet_rand=True, verbose=False)
    _load_lpips_heads(net)
    if path is not None:
        _load_alexnet_trunk(net, load_state(path), path)
    net.eval().requires_grad_(False)
    return net, "pretrained" if path is not None else RANDOM_WEIGHTS
