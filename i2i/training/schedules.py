"""Loss-weight schedules as pure functions of the iteration (nothing to save, exact on resume)."""
from __future__ import annotations


def ds_weight(step: int, lambda_ds: float, ds_iter: int) -> float:
    """StarGAN v2's diversity weight, decayed linearly from ``lambda_ds`` at step 0 to 0 at ``ds_iter``."""
    return max(0.0, lambda_ds * (1.0 - step / ds_iter))


def ramp_weight(step: int, weight: float, start: int, length: int) -> float:
    """``weight`` ramped in linearly: 0 before ``start``, full from ``start + length`` on."""
    if step < start:
        return 0.0
    if length <= 0:
        return weight
    return weight * min(1.0, (step - start) / length)


def lr_factor(step: int, total_iters: int, decay_iters: int) -> float:
    """Learning-rate multiplier: 1, then linearly down to 0 over the last ``decay_iters`` of ``total_iters``
    (CycleGAN's ``linear`` policy; ``decay_iters`` 0 keeps StarGAN v2's constant rate)."""
    if decay_iters <= 0:
        return 1.0
    return max(0.0, min(1.0, (total_iters - step) / decay_iters))
