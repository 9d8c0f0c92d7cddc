"""What a benchmark needs to state its share of the machine: a FLOP counter and the device's measured peaks."""
from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry


class FlopCount(TorchDispatchMode):
    """Sum of the FLOPs of every aten op with a formula in ``torch.utils.flop_counter`` (convolutions and matrix
    products, forward and backward). FlopCounterMode itself cannot be used: its module hooks break R1's
    ``autograd.grad`` on a leaf input."""

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


def matmul_peak_gflops(device, reps: int = 5) -> float:
    """Float32 GFLOP/s of one large ``torch.mm`` (the GEMM shape of a 512-channel 3x3 convolution at 32 px, batch 8):
    the ceiling a convolution-bound training step can reach on this device."""
    a, b = torch.randn(4096, 4608, device=device), torch.randn(4608, 512, device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    best = float("inf")
    for _ in range(reps):
        sync()
        tic = time.perf_counter()
        a @ b
        sync()
        best = min(best, time.perf_counter() - tic)
    return 2 * 4096 * 4608 * 512 / best / 1e9


def conv_peak_gflops(device, reps: int = 5) -> float:
    """Float32 GFLOP/s of one large 3x3 convolution (512 -> 512 channels, 32 x 32, batch 8, forward): the ceiling of
    a convolution-bound network on this device."""
    x = torch.randn(8, 512, 32, 32, device=device)
    w = torch.randn(512, 512, 3, 3, device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    F.conv2d(x, w, padding=1)
    best = float("inf")
    for _ in range(reps):
        sync()
        tic = time.perf_counter()
        F.conv2d(x, w, padding=1)
        sync()
        best = min(best, time.perf_counter() - tic)
    return 2 * 8 * 512 * 32 * 32 * 512 * 9 / best / 1e9
