"""The Trainer: owns networks, EMA copies, optimisers, AMP and the LPIPS net, and runs one iteration."""
from __future__ import annotations

import functools
import logging
from pathlib import Path

import torch

from ..config import Config, TrainConfig
from ..models import build_networks
from ..models.fan import load_fan
from ..pretrained import build_lpips
from .distributed import DistInfo, all_reduce_gradients, broadcast_module
from .ema import update_ema
from .schedules import ds_weight, lr_factor, ramp_weight
from .step import Weights, discriminator_fakes, discriminator_loss, generator_loss, translate

log = logging.getLogger(__name__)


def compile_in_place(net: torch.nn.Module) -> None:
    """``torch.compile`` the blocks the training step calls (the generator is used through its encoder and
    decoder halves, not ``forward``), keeping module types and parameter names."""
    children = list(net.children())
    for child in children:
        if isinstance(child, torch.nn.ModuleList):
            for block in child:
                block.compile()
        else:
            child.compile()


def learning_rate(t: TrainConfig, name: str) -> float:
    """Adam's learning rate for the network ``name``: ``f_lr`` for the mapping network, ``d_lr`` (when set) for
    the discriminator, else ``lr``."""
    if name == "mapping_network":
        return t.f_lr
    return t.d_lr or t.lr if name == "discriminator" else t.lr


def set_learning_rates(optims: dict[str, torch.optim.Optimizer], t: TrainConfig, step: int) -> None:
    """Set each named optimiser's rate for iteration ``step``: :func:`learning_rate` times the linear decay of
    ``lr_decay_iters`` (a pure function of the step, so exact on resume)."""
    factor = lr_factor(step, t.total_iters, t.lr_decay_iters)
    for name, opt in optims.items():
        for group in opt.param_groups:
            group["lr"] = learning_rate(t, name) * factor


def mixed_precision(amp: str, device: torch.device):
    """``(autocast, scaler)`` for ``train.amp`` (none|bf16|fp16) on ``device``: mixed precision on CUDA only, bf16
    falling back to fp16 with a GradScaler where the GPU lacks it."""
    wanted, amp = amp, amp if device.type == "cuda" else "none"
    if wanted != "none" and amp == "none":
        log.warning("train.amp=%s ignored on %s: mixed precision is used on CUDA only", wanted, device)
    if amp == "bf16" and not torch.cuda.is_bf16_supported():
        log.warning("bf16 not supported on this GPU; using fp16 with a GradScaler")
        amp = "fp16"
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return (functools.partial(torch.autocast, device.type, dtype=dtype, enabled=amp != "none"),
            torch.amp.GradScaler(device.type, enabled=amp == "fp16"))


def content_lpips(cfg: Config, device: torch.device):
    """``(LPIPS net or None, provenance)`` for the paper's content loss (None when ``lambda_cont`` is 0)."""
    if cfg.loss.lambda_cont <= 0:
        return None, "off"
    net, provenance = build_lpips(random_weights=cfg.loss.lpips_weights == "random")
    return net.to(device), provenance


class Trainer:
    """One StarGAN v2 + smoothing iteration, as in StarGAN v2's solver.

    Per iteration: D step with a latent-code fake, D step with a reference fake, G step with latent
    styles (updates G, M and E), G step with reference styles (updates G; and E through the triplet
    and SR terms when ``loss.smooth_trains_encoder``), then the EMA update of G, M and E.

    G, M and E do not change before the latent G step, so its translation ``G(x, M(z1, y_trg))`` is made
    once, with its graph, at the start: the latent D step gets it detached, and the reference D fake is
    decoded from the same encoded source (:func:`discriminator_fakes`). StarGAN v2 computes both afresh;
    the values are the same, a generator and an encoder pass are saved.
    """

    def __init__(self, cfg: Config, num_domains: int, device: torch.device, dist_info: DistInfo = DistInfo()):
        self.cfg, self.device, self.dist = cfg, device, dist_info
        t = cfg.train
        self.nets = build_networks(cfg.model, num_domains).to(device)
        self.channels_last = t.channels_last
        if self.channels_last:
            for _, net in self.nets.items():
                net.to(memory_format=torch.channels_last)
        if dist_info.enabled:
            for _, net in self.nets.items():
                broadcast_module(net)
        self.ema = self.nets.ema_copy()
        if t.compile:  # in place, so state-dict names do not change; D is left eager: R1 needs double backward
            for name in ("generator", "mapping_network", "style_encoder"):
                compile_in_place(getattr(self.nets, name))
        self.optims = {
            name: torch.optim.Adam(net.parameters(), lr=learning_rate(t, name), betas=(t.beta1, t.beta2),
                                   weight_decay=t.weight_decay)
            for name, net in self.nets.items()}
        self.autocast, self.scaler = mixed_precision(t.amp, device)
        self.fan = None
        if cfg.model.w_hpf > 0:
            if not t.fan_weights:
                raise ValueError(f"model.w_hpf={cfg.model.w_hpf:g} needs FAN face masks: set train.fan_weights to "
                                 "StarGAN v2's wing.ckpt (or a run's fan.safetensors)")
            if not Path(t.fan_weights).is_file():
                raise FileNotFoundError(
                    f"train.fan_weights={t.fan_weights} does not exist: the FAN face-mask network of model.w_hpf > 0 "
                    "is StarGAN v2's wing.ckpt (fetch it with StarGAN v2's `bash download.sh wing`, or from "
                    "https://www.dropbox.com/s/tjxpypwpt38926e/wing.ckpt?dl=0) and pass its path")
            self.fan = load_fan(t.fan_weights, device)
        self.lpips, self.lpips_provenance = content_lpips(cfg, device)

    def weights(self, step: int) -> Weights:
        """Loss weights at ``step`` (decayed ds, ramped SR, lazy R1: ``r1_every * lambda_reg`` every
        ``r1_every``-th step and 0 in between)."""
        c = self.cfg.loss
        reg = c.lambda_reg * c.r1_every if step % c.r1_every == 0 else 0.0
        return Weights(reg=reg, sty=c.lambda_sty, ds=ds_weight(step, c.lambda_ds, c.ds_iter),
                       cyc=c.lambda_cyc, tri=c.lambda_tri, sr=ramp_weight(step, c.lambda_sr, c.sr_start, c.sr_ramp),
                       cont=c.lambda_cont, recoloured=c.lambda_recoloured)

    def _params(self, *names: str) -> list[torch.nn.Parameter]:
        return [p for name in names for p in getattr(self.nets, name).parameters()]

    def _update(self, losses_and_inputs: list[tuple[torch.Tensor, list[str]]], step_names: list[str]) -> None:
        """Back-propagate each loss into the parameters of the named networks only, then step those."""
        for name in step_names:
            self.optims[name].zero_grad(set_to_none=True)
        for i, (loss, names) in enumerate(losses_and_inputs):
            retain = i < len(losses_and_inputs) - 1
            self.scaler.scale(loss).backward(inputs=self._params(*names), retain_graph=retain)
        all_reduce_gradients(self._params(*step_names), self.dist)
        for name in step_names:
            self.scaler.step(self.optims[name])
        self.scaler.update()

    def train_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        """Run iteration ``step`` on a device batch; return detached loss terms (no host sync)."""
        w, nets, cfg = self.weights(step), self.nets, self.cfg.loss
        set_learning_rates(self.optims, self.cfg.train, step)
        masks = self.fan.face_masks(batch["x_src"]) if self.fan is not None else None
        out = {}
        latent = translate(nets, batch, "latent", self.autocast, masks)
        fakes = discriminator_fakes(nets, batch, latent, self.autocast, masks)
        nets.discriminator.requires_grad_(True)
        for mode in ("latent", "reference"):
            loss, terms = discriminator_loss(nets, batch, fakes[mode], w, self.autocast)
            self._update([(loss, ["discriminator"])], ["discriminator"])
            out.update({f"D/{mode}/{k}": v for k, v in terms.items()})
        nets.discriminator.requires_grad_(False)  # G steps need gradients through D, not into it
        gme = ["generator", "mapping_network", "style_encoder"]
        for mode in ("latent", "reference"):
            main, smooth, terms = generator_loss(nets, batch, mode, w, cfg, self.autocast, self.lpips, masks,
                                                 self.fan, latent if mode == "latent" else None)
            if mode == "latent":
                self._update([(main if smooth is None else main + smooth, gme)], gme)
            elif cfg.smooth_trains_encoder and smooth is not None:
                self._update([(main, ["generator"]), (smooth, ["style_encoder"])], ["generator", "style_encoder"])
            else:  # StarGAN v2 / the authors' code: reference iterations step G only
                self._update([(main, ["generator"])], ["generator"])
            out.update({f"G/{mode}/{k}": v for k, v in terms.items()})
        for name, ema_net in self.ema.items():
            update_ema(getattr(nets, name), ema_net, self.cfg.train.ema_beta)
        return out

    def state_dict(self) -> dict:
        """Optimiser and grad-scaler states (the weights are saved separately as safetensors)."""
        return {"optimizers": {k: o.state_dict() for k, o in self.optims.items()}, "scaler": self.scaler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if "optimizers" not in state:  # e.g. a converted StarGAN v2 checkpoint: fine-tune with fresh Adam moments
            log.info("checkpoint has no optimiser state: starting the optimisers afresh")
            return
        for name, opt in self.optims.items():
            opt.load_state_dict(state["optimizers"][name])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
