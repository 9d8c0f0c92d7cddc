"""Loss terms of StarGAN v2 and of the smooth-style-space paper, each a pure function of tensors."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def masked_mean(per_sample: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of ``per_sample`` over the rows where ``mask`` (bool) is True; 0 when none is; all rows without mask."""
    if mask is None:
        return per_sample.mean()
    return torch.where(mask, per_sample, torch.zeros_like(per_sample)).sum() / mask.sum().clamp(min=1)


def adversarial_loss(logits: torch.Tensor, target: float, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Non-saturating GAN loss: ``BCEWithLogits(logits, target)`` averaged over the batch (over the rows where
    ``mask`` is True, when given).

    ``target=1`` gives ``mean(softplus(-logits))`` (real / generator), ``target=0`` gives
    ``mean(softplus(logits))`` (fake).
    """
    per_sample = F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, float(target)), reduction="none")
    return masked_mean(per_sample, mask)


def r1_penalty(d_out: torch.Tensor, x_in: torch.Tensor) -> torch.Tensor:
    """R1 gradient penalty on real images: ``0.5 * mean_i sum_pixels (dD(x_i)/dx_i)^2``.

    ``x_in`` must require grad and ``d_out`` be computed from it; the graph is kept so the penalty
    can be back-propagated into D (double backward).
    """
    (grad,) = torch.autograd.grad(d_out.sum(), x_in, create_graph=True)
    return 0.5 * grad.float().pow(2).flatten(1).sum(1).mean()


def style_reconstruction_loss(s_pred: torch.Tensor, s_trg: torch.Tensor) -> torch.Tensor:
    """StarGAN v2 Eq. (8): ``mean |s_trg - E(G(x, s_trg))|``."""
    return (s_pred - s_trg).abs().mean()


def diversity_loss(x_fake: torch.Tensor, x_fake2: torch.Tensor) -> torch.Tensor:
    """Diversity-sensitive term Eq. (9): ``mean |G(x, s1) - G(x, s2)|`` with the second output detached.

    The caller subtracts it (weighted by the decaying ``lambda_ds``) from the generator loss.
    """
    return (x_fake - x_fake2.detach()).abs().mean()


def cycle_loss(x_rec: torch.Tensor, x_real: torch.Tensor) -> torch.Tensor:
    """Cycle consistency Eq. (10): ``mean |x - G(G(x, s), E(x))|``."""
    return (x_rec - x_real).abs().mean()


def triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                 margin: float = 0.1, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Paper Eq. (1): ``mean max(||s_a - s_p||_2 - ||s_a - s_n||_2 + margin, 0)``.

    Euclidean (not squared) distances. ``mask`` (bool, per sample) keeps only the triplets that take
    part (samples whose target domain differs from their source domain); the mean is over kept
    samples and is 0 when none is kept.
    """
    d_ap = (anchor - positive).norm(dim=1)
    d_an = (anchor - negative).norm(dim=1)
    return masked_mean(F.relu(d_ap - d_an + margin), mask)


def style_regularization(s_trg: torch.Tensor, s_org: torch.Tensor) -> torch.Tensor:
    """Style regularisation SR, paper Eq. (3): ``mean(s_trg^2) + mean(s_org^2)``.

    The mean runs over batch *and* code elements, as in the authors' code; this is the paper's
    ``E[||s||_2^2]`` scaled by ``1 / style_dim`` (so lambda_sr = 1 here equals 1/64 in the paper's
    notation for 64-d codes).
    """
    return s_trg.pow(2).mean() + s_org.pow(2).mean()


def content_loss(lpips_net: torch.nn.Module, x_src: torch.Tensor, x_fake: torch.Tensor) -> torch.Tensor:
    """Paper Eq. (4): mean LPIPS distance between the source and its translation (inputs in [-1, 1])."""
    return lpips_net(x_src, x_fake).mean()


def hinge_loss(logits: torch.Tensor, mode: str) -> torch.Tensor:
    """TUNIT's hinge GAN loss: ``mean relu(1 - l)`` (``"real"``), ``mean relu(1 + l)`` (``"fake"``), ``-mean l``
    (``"generator"``)."""
    if mode == "real":
        return F.relu(1.0 - logits).mean()
    if mode == "fake":
        return F.relu(1.0 + logits).mean()
    if mode == "generator":
        return -logits.mean()
    raise ValueError(f"hinge_loss mode must be real, fake or generator, got {mode!r}")


def iic_loss(p: torch.Tensor, p_aug: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """IIC (Ji et al. 2019), as TUNIT uses it: ``-I(c; c')`` for cluster probabilities (N, K) of images and of
    their augmented views.

    The joint ``P = sym(sum_n p_n p'_n^T) / total`` (symmetrised, normalised) gives
    ``-sum_ij P_ij (log P_ij - log P_i - log P_j)`` with entries below ``eps`` clamped to ``eps`` inside the logs.
    Minimised by confident, balanced clusters that agree across the two views (minimum ``-log K``).
    """
    joint = p.t() @ p_aug
    joint = (joint + joint.t()) / 2
    joint = joint / joint.sum()
    p_i = joint.sum(1, keepdim=True).expand_as(joint)
    p_j = joint.sum(0, keepdim=True).expand_as(joint)
    log = lambda t: t.clamp(min=eps).log()  # noqa: E731
    return -(joint * (log(joint) - log(p_i) - log(p_j))).sum()


def contrastive_loss(query: torch.Tensor, key: torch.Tensor, queue: torch.Tensor,
                     temperature: float = 0.07) -> torch.Tensor:
    """MoCo's InfoNCE, as TUNIT's style loss: cross-entropy of ``[q.k, q.queue_1, ..., q.queue_Q] / T`` with the
    positive ``k`` (detached) in class 0. Dot products of raw (unnormalised) codes, as in TUNIT's code."""
    pos = (query * key.detach()).sum(1, keepdim=True)
    neg = query @ queue.detach().t()
    logits = torch.cat([pos, neg], dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(query.size(0), dtype=torch.long, device=query.device))
