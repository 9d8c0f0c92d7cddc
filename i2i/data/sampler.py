"""Training batches as a pure function of (seed, iteration): exact resume and any worker count."""
from __future__ import annotations

import numpy as np
import torch

from i2i.data.dataset import DomainImages
from i2i.data.images import augment


def iteration_generator(seed: int, step: int) -> torch.Generator:
    """A torch.Generator whose state depends only on ``(seed, step)`` (well mixed by SeedSequence)."""
    state = np.random.SeedSequence([seed, step]).generate_state(2, dtype=np.uint64)
    return torch.Generator().manual_seed(int(state[0] >> np.uint64(1)))


class TrainBatches(torch.utils.data.Dataset):
    """Item ``step`` is the training batch of iteration ``step``.

    Each batch holds, like StarGAN v2's fetcher: ``x_src``/``y_src`` (domains drawn uniformly, then an
    image uniformly within the domain: StarGAN v2's balanced sampler), ``x_ref``/``x_ref2`` (two
    different images of one target domain ``y_trg``, drawn the same way), ``z1``/``z2`` (N(0, I) latent
    codes). The whole global batch is drawn from ``(seed, step)``; rank ``r`` of ``world_size`` keeps
    the contiguous slice ``[r * B / W, (r + 1) * B / W)``, so the union over ranks is the global batch.
    """

    def __init__(self, images: DomainImages, batch_size: int, latent_dim: int, seed: int,
                 randcrop_prob: float = 0.5, total_iters: int = 10**9, rank: int = 0, world_size: int = 1,
                 hflip: bool = True):
        if batch_size % world_size:
            raise ValueError(f"global batch {batch_size} is not divisible by world size {world_size}")
        self.images, self.batch_size, self.latent_dim = images, batch_size, latent_dim
        self.seed, self.randcrop_prob, self.hflip, self.total_iters = seed, randcrop_prob, hflip, total_iters
        per_rank = batch_size // world_size
        self.rows = slice(rank * per_rank, (rank + 1) * per_rank)

    def __len__(self) -> int:
        return self.total_iters

    def _pick(self, labels: torch.Tensor, g: torch.Generator, exclude: torch.Tensor | None = None) -> torch.Tensor:
        counts, starts = self.images.counts[labels], self.images.starts[labels]
        u = torch.rand(labels.shape, generator=g, dtype=torch.float64)
        if exclude is None:
            offset = (u * counts).long()
        else:  # a different image of the same domain whenever the domain has two or more
            other = (u * (counts - 1).clamp(min=1)).long() + 1
            offset = torch.where(counts > 1, (exclude - starts + other) % counts, torch.zeros_like(counts))
        return starts + offset

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        g = iteration_generator(self.seed, step)
        n, k = self.batch_size, self.images.num_domains
        y_src = torch.randint(k, (n,), generator=g)
        y_trg = torch.randint(k, (n,), generator=g)
        src = self._pick(y_src, g)
        ref = self._pick(y_trg, g)
        ref2 = self._pick(y_trg, g, exclude=ref)
        z1 = torch.randn(n, self.latent_dim, generator=g)
        z2 = torch.randn(n, self.latent_dim, generator=g)
        aug_seeds = torch.randint(2**62, (3, n), generator=g)
        rows = self.rows

        def load(indices: torch.Tensor, seeds: torch.Tensor) -> torch.Tensor:
            return torch.stack([augment(self.images.image(int(i)), torch.Generator().manual_seed(int(s)),
                                        self.randcrop_prob, self.hflip)
                                for i, s in zip(indices[rows], seeds[rows])])

        return {
            "x_src": load(src, aug_seeds[0]), "y_src": y_src[rows],
            "x_ref": load(ref, aug_seeds[1]), "x_ref2": load(ref2, aug_seeds[2]), "y_trg": y_trg[rows],
            "z1": z1[rows], "z2": z2[rows],
        }
