"""torchrun data parallelism: process group and per-rank device, parameter broadcast, explicit gradient all-reduce.

Why not the ``DistributedDataParallel`` wrapper: DDP synchronises gradients through hooks that its
``forward`` arms, but one training step here calls the generator several times through
``encode_content``/``decode_content`` (not ``forward``), runs R1's double backward
(``create_graph=True``), and back-propagates several losses into different subsets of networks. Under
DDP that needs ``find_unused_parameters=True`` and still breaks on the non-forward calls. Instead,
like stylegan3's training loop, every rank runs the same step on its slice of the global batch and the
gradients of the networks about to be stepped are averaged with one flat ``all_reduce`` right before
``optimizer.step()``. Parameters start identical (broadcast from rank 0), every rank applies the same
averaged gradients with the same Adam state, so parameters, optimiser states and EMA copies stay
identical on all ranks without further communication.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from i2i.device import resolve_device

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """Rank and world size of this process (``rank 0 of 1`` without torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup(device_name: str = "auto") -> tuple[DistInfo, torch.device]:
    """Join the torchrun process group if ``WORLD_SIZE > 1`` (nccl on CUDA, gloo on CPU); pick this rank's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(), resolve_device(device_name)
    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    device = resolve_device(device_name)
    if device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    log.info("rank %d of %d on %s (%s)", info.rank, world, device, dist.get_backend())
    return info, device


def cleanup() -> None:
    """Leave the process group (no-op without one)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def broadcast_module(module: torch.nn.Module, src: int = 0) -> None:
    """Copy every parameter and buffer of ``module`` from rank ``src`` to all ranks."""
    for tensor in [*module.parameters(), *module.buffers()]:
        dist.broadcast(tensor.data, src)


def all_reduce_mean(flat: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Average a tensor over ranks (in place; returned for chaining)."""
    if info.enabled:
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat.div_(info.world_size)
    return flat


def all_gather_rows(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Concatenate equal-shaped tensors of all ranks along dim 0, in rank order (the tensor itself without DDP)."""
    if not info.enabled:
        return t
    parts = [torch.empty_like(t) for _ in range(info.world_size)]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts)


def all_reduce_gradients(params: list[torch.nn.Parameter], info: DistInfo) -> None:
    """Average the gradients of ``params`` over ranks with one flat all-reduce.

    Parameters without a gradient on this step (e.g. the mapping network in a reference iteration) are
    skipped; every rank runs the same code path, so the set of skipped parameters agrees across ranks.
    """
    if not info.enabled:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = all_reduce_mean(torch.cat([g.reshape(-1) for g in grads]), info)
    for g, chunk in zip(grads, flat.split([g.numel() for g in grads])):
        g.copy_(chunk.view_as(g))


def check_in_sync(modules: dict[str, torch.nn.Module], info: DistInfo) -> None:
    """Raise if any network's parameters differ between ranks (compares per-network checksums; cheap)."""
    if not info.enabled:
        return
    device = next(t for m in modules.values() for t in [*m.parameters(), *m.buffers()]).device
    zero = torch.zeros((), dtype=torch.float64, device=device)  # for networks without parameters
    sums = torch.stack([sum((p.detach().double().sum() for p in m.parameters()), zero) for m in modules.values()])
    gathered = [torch.empty_like(sums) for _ in range(info.world_size)]
    dist.all_gather(gathered, sums)
    for rank, other in enumerate(gathered):
        if not torch.equal(other, gathered[0]):
            names = [n for n, a, b in zip(modules, other, gathered[0]) if a != b]
            raise RuntimeError(f"parameters of {', '.join(names)} differ between rank 0 and rank {rank}")
