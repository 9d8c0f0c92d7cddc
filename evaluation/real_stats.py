"""Inception statistics of a domain's real images, cached on disk per (folder, image size, file list, weights)."""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import torch
from tqdm import tqdm

from i2i.data.images import load_image

from i2i.evaluation.fid import FeatureStatistics, inception_features, load_statistics, save_statistics

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$I2I_CACHE/fid_stats``, else ``$XDG_CACHE_HOME/i2i/fid_stats`` (``~/.cache/i2i/fid_stats``)."""
    if os.environ.get("I2I_CACHE"):
        return Path(os.environ["I2I_CACHE"]) / "fid_stats"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "i2i" / "fid_stats"


def files_key(folder: Path, files: list[Path], **extra) -> str:
    """A hash of the folder, every file's name, size and mtime, and ``extra`` (JSON-serialisable): a cache key
    that changes whenever the data or the settings do."""
    folder = Path(folder).resolve()
    entries = [(str(p.resolve().relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    blob = json.dumps({"folder": str(folder), "files": entries, **extra}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def statistics_key(folder: Path, files: list[Path], img_size: int, weights: str) -> str:
    """The cache key of one domain's Inception statistics (see :func:`files_key`)."""
    return files_key(folder, files, img_size=img_size, weights=weights)


def real_statistics(model: torch.nn.Module, weights: str, folder: Path, files: list[Path], img_size: int,
                    cache_dir: Path | None = None, batch_size: int = 50,
                    progress: bool = True) -> tuple[tuple, bool]:
    """``((mu, sigma, n), cache_hit)`` for the images ``files`` of ``folder``, each resized to ``img_size``
    (as StarGAN v2's evaluation does before Inception's own resize to 299).

    With a ``cache_dir`` the statistics are read from, or written to, ``<cache_dir>/<key>.npz``; unreadable
    images are skipped with a warning (and change the key only through the file list).
    """
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"{statistics_key(folder, files, img_size, weights)}.npz"
        if path.is_file():
            log.info("real-image statistics of %s from cache %s", folder, path)
            return load_statistics(path), True
    stats = FeatureStatistics()
    batch: list[torch.Tensor] = []
    for i, file in enumerate(tqdm(files, desc=f"real {folder.name}", unit="img", disable=not progress,
                                  leave=False)):
        try:
            batch.append(load_image(file, img_size))
        except Exception as err:  # PIL raises many types for bad files
            log.warning("skipping unreadable image %s (%s: %s)", file, type(err).__name__, err)
        if batch and (len(batch) == batch_size or i == len(files) - 1):
            stats.add(inception_features(model, torch.stack(batch)))
            batch = []
    if path is not None:
        save_statistics(path, stats)
    return (*stats.mean_cov(), stats.n), False
