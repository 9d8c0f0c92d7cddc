"""Exponential moving average of network parameters (StarGAN v2's ``moving_average``)."""
from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def update_ema(model: nn.Module, ema: nn.Module, beta: float = 0.999) -> None:
    """``ema = beta * ema + (1 - beta) * model`` for every parameter; buffers are copied."""
    ema_params = list(ema.parameters())
    params = [p.detach() for p in model.parameters()]
    if params:  # a network may hold buffers only (TUNIT's per-cluster style moments)
        torch._foreach_lerp_(ema_params, params, 1.0 - beta)
    for b_ema, b in zip(ema.buffers(), model.buffers()):
        b_ema.copy_(b)
