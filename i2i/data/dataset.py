"""Multi-domain image folders in StarGAN v2's layout: ``ROOT/<split>/<domain>/*.jpg``."""
from __future__ import annotations

import logging
from pathlib import Path

import torch
from tqdm import tqdm

from i2i.data.images import IMG_EXTENSIONS, load_image, verify_image

log = logging.getLogger(__name__)

AUTO_CACHE_BYTES = 2 * 1024**3


class DatasetLayoutError(ValueError):
    """The folder does not hold a usable multi-domain dataset."""


def scan_split(root: str | Path, split: str = "train") -> tuple[list[str], list[list[Path]]]:
    """Return the sorted domain names under ``root/split`` and each domain's sorted image files.

    Raises
    ------
    DatasetLayoutError
        When ``root/split`` is missing, has fewer than two domain folders, or a domain has no image.
    """
    split_dir = Path(root) / split
    if not split_dir.is_dir():
        raise DatasetLayoutError(
            f"{split_dir} does not exist: expected StarGAN v2's layout {Path(root)}/{split}/<domain>/*.jpg "
            f"(run `i2i make-synthetic --out {root}` for a demo dataset)")
    domains = sorted(p.name for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(domains) < 2:
        raise DatasetLayoutError(
            f"{split_dir} has {len(domains)} domain folder(s) ({', '.join(domains) or 'none'}); "
            f"multi-domain translation needs at least 2 sub-folders, one per domain")
    files = []
    for name in domains:
        paths = sorted(p for p in (split_dir / name).rglob("*")
                       if p.is_file() and p.suffix.lower() in IMG_EXTENSIONS)
        if not paths:
            raise DatasetLayoutError(f"domain folder {split_dir / name} has no image files "
                                     f"({', '.join(IMG_EXTENSIONS)})")
        files.append(paths)
    return domains, files


def decode_files(paths: list[Path], img_size: int, cache: str, progress: bool, desc: str
                 ) -> tuple[bool, list[Path], list[int], torch.Tensor | None, int]:
    """Check (and with caching decode) image files; unreadable ones are skipped with one warning each.

    Returns ``(cached, kept_paths, kept_indices, images or None, num_skipped)``; caching is on for
    ``cache="yes"``, or ``"auto"`` when the decoded images fit in 2 GiB.
    """
    cached = cache == "yes" or (cache == "auto" and len(paths) * 3 * img_size**2 <= AUTO_CACHE_BYTES)
    kept_paths, kept, images, skipped = [], [], [], 0
    for i, path in enumerate(tqdm(paths, desc=desc, unit="img", disable=not progress, leave=False)):
        try:
            if cached:
                images.append(load_image(path, img_size))
            else:
                verify_image(path, img_size)
        except Exception as err:  # PIL raises many types for bad files
            skipped += 1
            log.warning("skipping unreadable image %s (%s: %s)", path, type(err).__name__, err)
            continue
        kept_paths.append(path)
        kept.append(i)
    return cached, kept_paths, kept, torch.stack(images) if cached and images else None, skipped


class DomainImages:
    """All images of one split, grouped by domain, decoded to uint8 (3, S, S) tensors.

    Unreadable or corrupt files are skipped with one warning line each and counted in ``num_skipped``.
    With caching (``cache="yes"``, or ``"auto"`` when the decoded split fits in 2 GiB) every image is
    decoded once up front; otherwise images are decoded on access.
    """

    def __init__(self, root: str | Path, split: str, img_size: int, cache: str = "auto", progress: bool = True):
        self.root, self.split, self.img_size = Path(root), split, img_size
        self.domains, files = scan_split(root, split)
        owners = [label for label, paths in enumerate(files) for _ in paths]
        self.cached, self.paths, kept, images, self.num_skipped = decode_files(
            [p for paths in files for p in paths], img_size, cache, progress, f"reading {split}")
        labels = [owners[i] for i in kept]
        self.labels = torch.tensor(labels, dtype=torch.long)
        self.counts = torch.bincount(self.labels, minlength=len(self.domains))
        self.starts = torch.cumsum(self.counts, 0) - self.counts
        for name, count in zip(self.domains, self.counts.tolist()):
            if count == 0:
                raise DatasetLayoutError(f"domain folder {self.root / split / name} has no readable image")
        self.images = images
        if self.num_skipped:
            log.warning("%d unreadable image(s) skipped under %s", self.num_skipped, self.root / split)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def num_domains(self) -> int:
        return len(self.domains)

    def image(self, index: int) -> torch.Tensor:
        """uint8 (3, S, S) image ``index``; a file that fails to decode now is replaced by its neighbour
        in the same domain, with a warning."""
        if self.images is not None:
            return self.images[index]
        label = int(self.labels[index])
        start, count = int(self.starts[label]), int(self.counts[label])
        for attempt in range(count):
            i = start + (index - start + attempt) % count
            try:
                return load_image(self.paths[i], self.img_size)
            except Exception as err:
                log.warning("skipping unreadable image %s (%s: %s)", self.paths[i], type(err).__name__, err)
        raise DatasetLayoutError(f"no readable image left in {self.root / self.split / self.domains[label]}")

    def domain_indices(self, label: int) -> range:
        """Indices of the images of domain ``label``."""
        start = int(self.starts[label])
        return range(start, start + int(self.counts[label]))
