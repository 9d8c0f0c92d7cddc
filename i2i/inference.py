"""Inference on a trained run: load the EMA networks once, draw style codes, decode one source with many styles."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from .config import Config, load_config
from .device import resolve_device
from .models import Networks, build_networks
from .models.blocks import default_base_dim
from .training.checkpoint import EMA_FILE, latest_checkpoint, load_flat_state


def resolve_checkpoint(path: str | Path) -> tuple[Path, Path]:
    """``(run_dir, weights_file)`` for a run directory, a checkpoint folder or a ``nets_ema.safetensors`` file."""
    path = Path(path)
    if path.is_file():
        weights, run_dir = path, path.parent.parent.parent
    elif (path / EMA_FILE).is_file():
        weights, run_dir = path / EMA_FILE, path.parent.parent
    elif path.is_dir():
        folder = latest_checkpoint(path)
        if folder is None:
            raise FileNotFoundError(f"{path} holds no checkpoint: expected RUN/checkpoints/latest "
                                    f"(train one with `i2i train`) or a checkpoint folder with {EMA_FILE}")
        weights, run_dir = folder / EMA_FILE, path
    else:
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if not (run_dir / "config.yaml").is_file() or not (run_dir / "domains.json").is_file():
        raise FileNotFoundError(f"{run_dir} lacks config.yaml or domains.json: pass a run directory written by "
                                "`i2i train` (or a checkpoint inside one)")
    return run_dir, weights


CPU_DECODE_BYTES = 4 * 1024**2


def default_decode_batch(model_cfg, device: torch.device) -> int | None:
    """Images per decoder call: all at once on GPUs; on CPUs as many as keep the widest activation within
    ~4 MB, because CPU convolutions slow down per image once a batch falls out of cache (measured with
    ``benchmarks/eval_ps.py``: at 64 px one 40-image decode costs 1.6x forty 1-image decodes)."""
    if device.type != "cpu":
        return None
    width = model_cfg.base_dim or default_base_dim(model_cfg.img_size)
    return max(1, CPU_DECODE_BYTES // (width * model_cfg.img_size ** 2 * 4))


def lerp_styles(s0: torch.Tensor, s1: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
    """Linear interpolation of style codes: (N, D), (N, D), (F,) -> (N, F, D)."""
    alphas = alphas.to(s0)[None, :, None]
    return s0[:, None] + alphas * (s1 - s0)[:, None]


class Translator:
    """The EMA generator, mapping network and style encoder of one run, in eval mode, on one device.

    Parameters
    ----------
    nets : Networks
        EMA networks (no discriminator).
    cfg : Config
        The run's configuration.
    domains : list of str
        Domain names, in label order.
    device : torch.device
    source : str
        Where the weights came from (shown in reports).
    """

    def __init__(self, nets: Networks, cfg: Config, domains: list[str], device: torch.device, source: str = ""):
        if cfg.model.w_hpf > 0:
            raise NotImplementedError("models with w_hpf > 0 need FAN face masks, which are not implemented yet")
        self.nets = nets.to(device)
        for _, net in nets.items():
            net.eval().requires_grad_(False)
        self.cfg, self.domains, self.device, self.source = cfg, list(domains), device, source
        self.decode_batch = default_decode_batch(cfg.model, device)

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "auto") -> "Translator":
        """Load the EMA weights of a run directory, checkpoint folder or ``nets_ema.safetensors`` file."""
        from safetensors.torch import load_file

        run_dir, weights = resolve_checkpoint(path)
        cfg = load_config(run_dir / "config.yaml")
        domains = json.loads((run_dir / "domains.json").read_text())["domains"]
        nets = build_networks(cfg.model, len(domains), discriminator=False)
        load_flat_state(nets, load_file(str(weights)), str(weights))
        device = device if isinstance(device, torch.device) else resolve_device(device)
        return cls(nets, cfg, domains, device, source=str(weights))

    @property
    def img_size(self) -> int:
        return self.cfg.model.img_size

    @property
    def num_domains(self) -> int:
        return len(self.domains)

    @torch.inference_mode()
    def latent_styles(self, labels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Style codes ``M(z, y)`` for z ~ N(0, I) drawn on the CPU from ``generator``: labels (...,) -> (..., D)."""
        z = torch.randn(*labels.shape, self.cfg.model.latent_dim, generator=generator)
        flat = self.nets.mapping_network(z.flatten(0, -2).to(self.device), labels.flatten().to(self.device))
        return flat.view(*labels.shape, -1)

    @torch.inference_mode()
    def reference_styles(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Style codes ``E(x_ref, y)``: float images in [-1, 1] (..., 3, S, S) and labels (...,) -> (..., D)."""
        flat = self.nets.style_encoder(images.flatten(0, -4).to(self.device), labels.flatten().to(self.device))
        return flat.view(*labels.shape, -1)

    @torch.inference_mode()
    def decode_many(self, sources: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
        """Translate each source under each of its styles: (N, 3, S, S), (N, K, D) -> (N, K, 3, S, S) in [-1, 1].

        Each source goes through the style-independent encoder once; the N * K decodes run in one batch, or
        in chunks of ``self.decode_batch`` (see :func:`default_decode_batch`).
        """
        n, k = styles.shape[:2]
        h, _ = self.nets.generator.encode_content(sources.to(self.device))
        h, flat = h.repeat_interleave(k, 0), styles.flatten(0, 1).to(self.device)
        step = self.decode_batch or flat.size(0)
        out = torch.cat([self.nets.generator.decode_content(h[i:i + step], flat[i:i + step])
                         for i in range(0, flat.size(0), step)])
        return out.view(n, k, *out.shape[1:])

    def interpolate(self, sources: torch.Tensor, s0: torch.Tensor, s1: torch.Tensor,
                    alphas: torch.Tensor) -> torch.Tensor:
        """Frames ``G(x, lerp(s0, s1, alpha))`` for every alpha: (N, 3, S, S), (N, D), (N, D), (F,) -> (N, F, 3, S, S)."""
        return self.decode_many(sources, lerp_styles(s0, s1, alphas))
