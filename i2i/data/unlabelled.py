"""Image collections without domain labels (TUNIT's truly unsupervised setting) and their training batches."""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from i2i.data.dataset import DatasetLayoutError, decode_files
from i2i.data.images import IMG_EXTENSIONS, augment, augmented_view, load_image
from i2i.data.sampler import iteration_generator

log = logging.getLogger(__name__)


class UnlabelledImages:
    """Every image under ``ROOT/<split>/`` (nested folders included), decoded to uint8 (3, S, S) tensors.

    Files are ordered by file name (then path), so the order, and with it a training run, does not depend on
    which folder holds a file. When every file sits in a first-level folder and there are two or more, the
    folder names are kept as ``true_domains`` / ``true_labels`` for evaluating the clusters (cluster purity)
    only: training never reads them.
    """

    def __init__(self, root: str | Path, split: str, img_size: int, cache: str = "auto", progress: bool = True):
        self.root, self.split, self.img_size = Path(root), split, img_size
        split_dir = self.root / split
        if not split_dir.is_dir():
            raise DatasetLayoutError(f"{split_dir} does not exist: expected images under {split_dir}/ "
                                     "(any folder structure; folders are ignored in training)")
        files = sorted((p for p in split_dir.rglob("*") if p.is_file() and p.suffix.lower() in IMG_EXTENSIONS
                        and not any(part.startswith(".") for part in p.relative_to(split_dir).parts)),
                       key=lambda p: (p.name, str(p)))
        if not files:
            raise DatasetLayoutError(f"{split_dir} has no image files ({', '.join(IMG_EXTENSIONS)})")
        self.cached, self.paths, _, self.images, self.num_skipped = decode_files(
            files, img_size, cache, progress, f"reading {split}")
        if not self.paths:
            raise DatasetLayoutError(f"{split_dir} has no readable image")
        folders = [p.relative_to(split_dir).parts for p in self.paths]
        names = sorted({parts[0] for parts in folders if len(parts) > 1})
        self.true_domains = names if len(names) > 1 and all(len(parts) > 1 for parts in folders) else None
        self.true_labels = (torch.tensor([names.index(parts[0]) for parts in folders])
                            if self.true_domains else None)

    def __len__(self) -> int:
        return len(self.paths)

    def image(self, index: int) -> torch.Tensor:
        """uint8 (3, S, S) image ``index`` (decoded now when not cached)."""
        return self.images[index] if self.images is not None else load_image(self.paths[index], self.img_size)


class UnlabelledBatches(torch.utils.data.Dataset):
    """Item ``step`` is the batch of iteration ``step``, a pure function of ``(seed, step)`` (exact resume).

    ``x`` (N images drawn uniformly, StarGAN v2's augmentation), ``x_aug`` (TUNIT's augmented view of each, for
    IIC and MoCo) and ``x_ref`` (row i is row ``perm[i]`` of the *global* ``x``, as TUNIT's ``x_ref =
    x[randperm]``). Rank r keeps rows ``[r B/W, (r+1) B/W)``; its references are loaded for it, so no rank
    needs another rank's images.
    """

    def __init__(self, images: UnlabelledImages, batch_size: int, seed: int, randcrop_prob: float, tunit_cfg,
                 total_iters: int = 10**9, rank: int = 0, world_size: int = 1, hflip: bool = True):
        if batch_size % world_size:
            raise ValueError(f"global batch {batch_size} is not divisible by world size {world_size}")
        self.images, self.batch_size, self.seed, self.total_iters = images, batch_size, seed, total_iters
        self.randcrop_prob, self.hflip, self.t = randcrop_prob, hflip, tunit_cfg
        per_rank = batch_size // world_size
        self.rows = slice(rank * per_rank, (rank + 1) * per_rank)

    def __len__(self) -> int:
        return self.total_iters

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        g = iteration_generator(self.seed, step)
        n = self.batch_size
        index = torch.randint(len(self.images), (n,), generator=g)
        perm = torch.randperm(n, generator=g)
        seeds = torch.randint(2**62, (2, n), generator=g)
        rows = range(n)[self.rows]

        def gen(i: int, k: int) -> torch.Generator:
            return torch.Generator().manual_seed(int(seeds[k, i]))

        def plain(i: int) -> torch.Tensor:  # row i's image with its own augmentation, identical on every rank
            return augment(self.images.image(int(index[i])), gen(i, 0), self.randcrop_prob, self.hflip)

        t = self.t
        return {
            "x": torch.stack([plain(i) for i in rows]),
            "x_aug": torch.stack([augmented_view(self.images.image(int(index[i])), gen(i, 1), t.crop_scale,
                                                 t.jitter, t.hue, self.hflip) for i in rows]),
            "x_ref": torch.stack([plain(int(perm[i])) for i in rows]),
        }
