"""The trainer interface every training mode implements, and what the modes share: networks and their EMA copies,
optimisers, mixed precision, the LPIPS content network, gradient updates and optimiser state."""
from __future__ import annotations

import functools
import logging
from pathlib import Path

import torch

from i2i.config import Config, TrainConfig
from i2i.kinds import build_networks
from i2i.pretrained import build_lpips
from i2i.training.distributed import DistInfo, all_reduce_gradients, broadcast_module
from i2i.training.schedules import lr_factor

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
    """Adam's learning rate for the network ``name``: ``f_lr`` for the mapping network, else ``lr``."""
    return t.f_lr if name == "mapping_network" else t.lr


def make_optimizers(nets, t: TrainConfig, names) -> dict[str, torch.optim.Optimizer]:
    """One Adam per named network of ``nets``, with :func:`learning_rate` and the config's betas and weight decay."""
    return {name: torch.optim.Adam(getattr(nets, name).parameters(), lr=learning_rate(t, name),
                                   betas=(t.beta1, t.beta2), weight_decay=t.weight_decay) for name in names}


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
    if "cont" not in cfg.loss.smoothing_on:
        return None, "off"
    net, provenance = build_lpips(random_weights=cfg.loss.lpips_weights == "random")
    return net.to(device), provenance


class TrainerBase:
    """One training mode. The loop calls nothing else, so a new mode is one new module with a subclass.

    Subclasses set ``optimized`` (the networks with an Adam optimiser), ``domain_kind`` and ``progress_keys``
    (progress-bar label -> loss term), implement :meth:`load_data`, :meth:`domain_names`, :meth:`batches`,
    :meth:`train_step` and :meth:`samples`, and may override :meth:`to_device`, :meth:`logged_weights` and
    :meth:`write_run_files`. This base builds the networks (identical on every rank: rank 0's are broadcast), their
    EMA copies, the optimisers, mixed precision and the LPIPS content network, and owns the update and the optimiser
    state.
    """

    optimized: tuple[str, ...] = ()
    domain_kind = "domains"
    progress_keys: dict[str, str] = {}

    def __init__(self, cfg: Config, num_domains: int, device: torch.device, dist_info: DistInfo = DistInfo()):
        self.cfg, self.device, self.dist = cfg, device, dist_info
        t = cfg.train
        self.nets = build_networks(cfg.model, num_domains).to(device)
        if dist_info.enabled:
            for _, net in self.nets.items():
                broadcast_module(net)
        self.ema = self.nets.ema_copy()
        self.optims = make_optimizers(self.nets, t, self.optimized)
        self.autocast, self.scaler = mixed_precision(t.amp, device)
        self.lpips, self.lpips_provenance = content_lpips(cfg, device)

    @classmethod
    def load_data(cls, cfg: Config, progress: bool) -> tuple:
        """``(training images, validation images for the sample grids)``."""
        raise NotImplementedError

    @classmethod
    def domain_names(cls, cfg: Config, images) -> list[str]:
        """The names of the (pseudo-)domains, in label order, as ``domains.json`` records them."""
        raise NotImplementedError

    def batches(self, images, rank: int, world_size: int) -> torch.utils.data.Dataset:
        """Item ``step`` is this rank's batch of iteration ``step`` (a pure function of the seed and the step)."""
        raise NotImplementedError

    def train_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        """Run iteration ``step`` on a device batch; return detached loss terms (no host sync)."""
        raise NotImplementedError

    def to_device(self, batch: dict) -> dict:
        """A host batch on the training device (non-blocking copies)."""
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    def logged_weights(self, step: int) -> dict[str, float]:
        """Scheduled loss weights at ``step`` to log beside the losses (``weight/<term>``)."""
        return {}

    def write_run_files(self, run_dir: Path) -> None:
        """Files besides the checkpoints that inference needs from the run directory (rank 0, once per start)."""

    def samples(self, val, out_dir: Path, step: int) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
        """Write the sample grids of ``step`` under ``out_dir``; return them (uint8, by name) and any scalars to log."""
        raise NotImplementedError

    def params(self, *names: str) -> list[torch.nn.Parameter]:
        return [p for name in names for p in getattr(self.nets, name).parameters()]

    def update(self, losses_and_inputs: list[tuple[torch.Tensor, list[str]]], step_names: list[str]) -> None:
        """Back-propagate each loss into the parameters of the named networks only, then step those."""
        for name in step_names:
            self.optims[name].zero_grad(set_to_none=True)
        for i, (loss, names) in enumerate(losses_and_inputs):
            retain = i < len(losses_and_inputs) - 1
            self.scaler.scale(loss).backward(inputs=self.params(*names), retain_graph=retain)
        all_reduce_gradients(self.params(*step_names), self.dist)
        for name in step_names:
            self.scaler.step(self.optims[name])
        self.scaler.update()

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
