"""The losses of one StarGAN v2 + smoothing iteration (StarGAN v2 kind; no optimiser logic here)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from i2i import losses
from i2i.colour import recolour_like
from i2i.models import Networks


@dataclass
class LossWeights:
    """StarGAN v2's and the paper's loss weights in force at one iteration (after the ds decay and the SR ramp),
    the triplet margin, and ``on``: the smoothing terms switched on (:attr:`i2i.config.LossConfig.smoothing_on`)."""

    reg: float
    sty: float
    ds: float
    cyc: float
    tri: float
    sr: float
    cont: float
    recoloured: float = 0.0
    recolour_negatives: bool = True
    tri_margin: float = 0.1
    on: frozenset[str] = frozenset({"tri", "sr", "cont"})


def target_code(nets: Networks, batch: dict, mode: str, second: bool = False) -> torch.Tensor:
    """A target-domain style code: ``M(z1|z2, y_trg)`` (latent mode) or ``E(x_ref|x_ref2, y_trg)`` (reference)."""
    if mode == "latent":
        return nets.mapping_network(batch["z2" if second else "z1"], batch["y_trg"])
    return nets.style_encoder(batch["x_ref2" if second else "x_ref"], batch["y_trg"])


@dataclass
class Translation:
    """The forward half of a G step: both target codes, the encoded source and ``x_fake = G(x, s_trg)``."""

    s_trg: torch.Tensor
    s_trg2: torch.Tensor
    h: torch.Tensor
    cache: dict
    x_fake: torch.Tensor


def translate(nets: Networks, batch: dict, mode: str, autocast, masks=None) -> Translation:
    """Codes and fake of one latent or reference G step, with their graph (the source is encoded once)."""
    with autocast():
        s_trg, s_trg2 = target_code(nets, batch, mode), target_code(nets, batch, mode, second=True)
        h, cache = nets.generator.encode_content(batch["x_src"], masks)
        x_fake = nets.generator.decode_content(h, s_trg, cache, masks)
    return Translation(s_trg, s_trg2, h, cache, x_fake)


def discriminator_fakes(nets: Networks, batch: dict, latent: Translation, autocast, masks=None) -> dict:
    """The fakes of the two D steps, made before either: ``{"latent": G(x, M(z1, y_trg)), "reference":
    G(x, E(x_ref, y_trg))}``, detached.

    G, M and E do not change during the D steps, so the latent G step's translation is the latent D fake
    (StarGAN v2 computes it twice) and its encoded source serves the reference fake (only the decoder runs).
    """
    with torch.no_grad(), autocast():
        reference = nets.generator.decode_content(latent.h, target_code(nets, batch, "reference"), latent.cache, masks)
    return {"latent": latent.x_fake.detach(), "reference": reference}


def discriminator_loss(nets: Networks, batch: dict, x_fake: torch.Tensor, w: LossWeights, autocast):
    """D loss on the real sources and on one batch of fakes (target domains), plus R1 on the reals.

    ``L_D = BCE(D_y(x), 1) + BCE(D_y'(x_fake), 0) + lambda_reg * R1``. The real branch runs in float32
    (autocast off) so the double-backward R1 term stays numerically safe under mixed precision.

    With ``lambda_recoloured > 0`` (not in StarGAN v2) D also gets ``+ lambda_recoloured * BCE(D_y'(T(x)), 0)``
    over the rows with ``y' != y``, where ``T(x)`` is the real source with its hue rotated to the mean hue of
    the target domain's reference ``x_ref`` (:func:`i2i.colour.recolour_like`): a real image of the wrong domain
    in the right colours. Like the mismatched real pairs of a matching-aware discriminator (Reed et al. 2016, GAN-CLS),
    this makes each head judge its domain by more than colour, so the generator is pushed to change the
    source's pattern (texture) too, which a recolouring alone would keep.
    """
    x_real, y_org, y_trg = batch["x_src"], batch["y_src"], batch["y_trg"]
    x_real = x_real.detach().requires_grad_(w.reg > 0)
    with autocast(enabled=False):
        out = nets.discriminator(x_real.float(), y_org)
        loss_real = losses.adversarial_loss(out, 1)
        loss_reg = losses.r1_penalty(out, x_real) if w.reg > 0 else out.new_zeros(())
    with autocast():
        loss_fake = losses.adversarial_loss(nets.discriminator(x_fake.detach(), y_trg).float(), 0)
    loss = loss_real + loss_fake + w.reg * loss_reg
    terms = {"real": loss_real.detach(), "fake": loss_fake.detach(), "reg": loss_reg.detach()}
    if w.recoloured > 0:
        x_neg = recolour_like(x_real.detach(), batch["x_ref"]) if w.recolour_negatives else x_real.detach()
        with autocast():
            logits = nets.discriminator(x_neg, y_trg).float()
        loss_neg = losses.adversarial_loss(logits, 0, mask=y_trg != y_org)
        loss = loss + w.recoloured * loss_neg
        terms["recoloured"] = loss_neg.detach()
    return loss, terms


def generator_loss(nets: Networks, batch: dict, mode: str, w: LossWeights, autocast, lpips_net=None, masks=None,
                   fan=None, fwd: Translation | None = None):
    """G-side losses of one latent or reference iteration.

    Returns ``(main, smooth, terms, adv)`` (``smooth`` is None while no smoothing term is active; ``adv`` is
    ``L_adv`` with its graph, for a caller that routes it to E too):
    ``main = L_adv + l_sty L_sty - l_ds L_ds + l_cyc L_cyc +
    l_cont L_cont`` (StarGAN v2 Eq. 7 plus the paper's content loss, Eq. 4) and ``smooth = l_tri L_tri
    + l_sr L_SR`` (Eq. 1 and 3), which only involve style codes. They are returned apart so the caller
    can route ``smooth`` to the network that produced the codes.

    Triplets (:func:`smoothing_terms`): anchor and positive are the two target codes, kept only where
    ``y_trg != y_src``; SR uses the target code and ``E(x_src, y_src)``.

    Face models (``w_hpf > 0``) translate with ``masks`` (FAN masks of ``x_src``) and reconstruct with the
    FAN masks of ``x_fake`` (computed without gradient), as StarGAN v2 does.

    ``fwd`` is this step's :func:`translate` output when the caller made it earlier (with the same
    parameters); it is computed here otherwise.
    """
    x_real, y_org, y_trg = batch["x_src"], batch["y_src"], batch["y_trg"]
    fwd = fwd or translate(nets, batch, mode, autocast, masks)
    s_trg, s_trg2, h, cache, x_fake = fwd.s_trg, fwd.s_trg2, fwd.h, fwd.cache, fwd.x_fake
    with autocast():
        loss_adv = losses.adversarial_loss(nets.discriminator(x_fake, y_trg).float(), 1)
        loss_sty = losses.style_reconstruction_loss(nets.style_encoder(x_fake, y_trg).float(), s_trg.float())
        if w.ds > 0:
            with torch.no_grad():
                x_fake2 = nets.generator.decode_content(h.detach(), s_trg2, cache, masks)
            loss_ds = losses.diversity_loss(x_fake.float(), x_fake2.float())
        else:
            loss_ds = x_fake.new_zeros(())
        s_org = nets.style_encoder(x_real, y_org)
        cycle_masks = fan.face_masks(x_fake.detach().float()) if fan is not None else None
        x_rec = nets.generator(x_fake, s_org, masks=cycle_masks)
        loss_cyc = losses.cycle_loss(x_rec.float(), x_real.float())
    if "cont" in w.on and lpips_net is not None:
        loss_cont = losses.content_loss(lpips_net, x_real.float(), x_fake.float())
    else:
        loss_cont = x_fake.new_zeros((), dtype=torch.float32)
    main = loss_adv + w.sty * loss_sty - w.ds * loss_ds + w.cyc * loss_cyc + w.cont * loss_cont
    loss_tri, loss_sr = smoothing_terms(nets, batch, mode, w, autocast, s_trg.float(), s_trg2.float(), s_org.float())
    active = [w_ * term for w_, term in ((w.tri, loss_tri), (w.sr, loss_sr)) if w_ > 0]
    smooth = torch.stack(active).sum() if active else None
    terms = dict(adv=loss_adv, sty=loss_sty, ds=loss_ds, cyc=loss_cyc, cont=loss_cont, tri=loss_tri, sr=loss_sr)
    return main, smooth, {k: v.detach().float() for k, v in terms.items()}, loss_adv


def smoothing_terms(nets: Networks, batch: dict, mode: str, w: LossWeights, autocast, s_trg: torch.Tensor,
                    s_trg2: torch.Tensor, s_org: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The paper's triplet loss (Eq. 1) and SR (Eq. 3) on one step's codes, unweighted (0 where switched off).

    The triplet negative is ``M(z1, y_src)`` in latent iterations and ``E(x_src, y_src)`` in reference ones. A term
    switched on (``w.on``) is computed and logged also before SR's ramp-in starts: it is cheap.
    """
    y_org, y_trg = batch["y_src"], batch["y_trg"]
    loss_tri = loss_sr = s_trg.new_zeros(())
    if "tri" in w.on:
        if mode == "latent":
            with autocast():
                s_neg = nets.mapping_network(batch["z1"], y_org).float()
        else:
            s_neg = s_org
        loss_tri = losses.triplet_loss(s_trg, s_trg2, s_neg, w.tri_margin, y_trg != y_org)
    if "sr" in w.on:
        loss_sr = losses.style_regularization(s_trg, s_org)
    return loss_tri, loss_sr
