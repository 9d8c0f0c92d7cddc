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
