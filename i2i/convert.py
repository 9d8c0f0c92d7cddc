"""Convert StarGAN v2-format checkpoints (the official release and the paper's) into i2i run directories.

Input: ``{step}_nets_ema.ckpt`` (or ``{step}_nets.ckpt``), a ``torch.save`` dict ``{'generator',
'mapping_network', 'style_encoder'[, 'discriminator']}`` of plain state dicts, read with
``weights_only=True``; for face models (``w_hpf > 0``) also ``wing.ckpt`` (``{'state_dict': ...}``, FAN).
The parameter names of :mod:`i2i.models` are StarGAN v2's, so tensors are copied unchanged.
"""
from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import Path

import torch

from i2i.config import Config, save_config
from i2i.kinds import build_networks
from i2i.models import Networks
from i2i.models.blocks import default_base_dim
from i2i.models.fan import load_fan
from i2i.rundir import CONFIG_FILE, FAN_FILE, latest_checkpoint, load_flat_state, write_domains, write_weights
from i2i.training.checkpoint import save_checkpoint

log = logging.getLogger(__name__)

NETWORKS = ("generator", "mapping_network", "style_encoder")
REQUIRED_TENSORS = {  # what infer_model_config reads (regular expressions over parameter names)
    "generator": (r"from_rgb\.weight", r"encode\.\d+\.conv2\.weight"),
    "mapping_network": (r"shared\.0\.weight", r"unshared\.0\.\d+\.weight"),
    "style_encoder": (r"shared\.\d+\.conv1\.weight",),
}
# Domain order of the released models, used only when --domains is not given and the shapes match.
RELEASED_DOMAINS = {("celeba_hq", 2, 1.0): ["female", "male"], ("afhq", 3, 0.0): ["cat", "dog", "wild"]}


def load_stargan_v2(path: str | Path) -> dict[str, dict[str, torch.Tensor]]:
    """The state dicts of a StarGAN v2 checkpoint, refusing anything but a dict of dicts of tensors."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:  # weights_only refuses arbitrary pickles; torch raises several error types
        reason = (str(err).splitlines() or [""])[0] or f"{type(err).__name__} (empty or truncated file?)"
        raise ValueError(f"{path} cannot be read as a StarGAN v2 checkpoint with torch.load(weights_only=True): "
                         f"{reason}") from None
    if not isinstance(ckpt, dict):
        raise ValueError(f"{path} holds a {type(ckpt).__name__}, not a dict of state dicts")
    missing = [k for k in NETWORKS if k not in ckpt]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}: expected keys {', '.join(NETWORKS)}[, discriminator] "
                         f"(found {', '.join(map(str, ckpt)) or 'none'})")
    for name, state in ckpt.items():
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise ValueError(f"{path}: '{name}' is not a state dict of tensors")
    return ckpt


def _count(state: dict, pattern: str) -> int:
    return len({m.group(1) for k in state if (m := re.fullmatch(pattern, k))})


def infer_model_config(nets: dict[str, dict[str, torch.Tensor]]) -> tuple[Config, int]:
    """``(config, num_domains)`` from tensor shapes: img_size, base width, max_conv_dim, style/latent/hidden
    dims and w_hpf (from the stored high-pass filter, ``-1 / filter[0, 0]``).

    When no stage reaches the channel cap, the smallest ``max_conv_dim`` that builds the same networks (the
    widest layer) is written; it computes exactly what the original does. State dicts that lack a tensor the
    shapes are read from give a ValueError naming the network and the tensor.
    """
    for name, keys in REQUIRED_TENSORS.items():
        for pattern in keys:
            if not any(re.fullmatch(pattern, k) for k in nets[name]):
                found = f"{len(nets[name])} tensors" if nets[name] else "empty"
                readable = pattern.replace(r"\d+", "N").replace("\\", "")
                raise ValueError(f"'{name}' has no tensor {readable} ({found}): not a StarGAN v2 {name} state dict")
    g, m, e = (nets[k] for k in NETWORKS)
    log2 = _count(e, r"shared\.(\d+)\.conv1\.weight") + 2  # style encoder: log2(img_size) - 2 ResBlks
    img_size = 2 ** log2
    w_hpf = float(-1.0 / g["hpf.filter"][0, 0]) if "hpf.filter" in g else 0.0
    base = g["from_rgb.weight"].shape[0]
    widths = [v.shape[0] for k, v in {**g, **e}.items() if re.fullmatch(r"(encode|shared)\.\d+\.conv2\.weight", k)]
    heads = sorted(int(k.split(".")[2]) for k in m if re.fullmatch(r"unshared\.0\.\d+\.weight", k))
    cfg = Config()
    cfg.model = replace(cfg.model, img_size=img_size, style_dim=m[f"unshared.0.{heads[-1]}.weight"].shape[0],
                        latent_dim=m["shared.0.weight"].shape[1], hidden_dim=m["shared.0.weight"].shape[0],
                        max_conv_dim=max(widths), w_hpf=w_hpf,
                        base_dim=None if base == default_base_dim(img_size) else base)
    cfg.data = replace(cfg.data, root="")  # no dataset: the app shows no examples, eval needs --data
    encoders = _count(g, r"encode\.(\d+)\..*")
    if encoders != log2 - 4 + (w_hpf > 0) + 2:
        raise ValueError(f"generator has {encoders} encoder blocks, but a {img_size} px StarGAN v2 generator with "
                         f"w_hpf={w_hpf:g} has {log2 - 4 + (w_hpf > 0) + 2}")
    return cfg.validate(), _count(m, r"unshared\.(\d+)\..*")


def default_domains(cfg: Config, num_domains: int) -> list[str]:
    """The released models' domain names when the shapes match one of them, else ``domain0, domain1, ...``."""
    m = cfg.model
    if m.img_size == 256 and m.max_conv_dim == 512 and m.base_dim is None:
        for (name, n, w), domains in RELEASED_DOMAINS.items():
            if n == num_domains and w == m.w_hpf:
                log.warning("no --domains given: assuming the released %s order %s", name, ",".join(domains))
                return domains
    return [f"domain{i}" for i in range(num_domains)]


def _load(nets: Networks, ckpt: dict, source: str) -> None:
    load_flat_state(nets, {f"{name}.{k}": v for name, net in nets.items() for k, v in ckpt[name].items()}, source)


def convert_stargan_v2(ckpt_path: str | Path, out: str | Path, wing: str | Path | None = None,
                       domains: list[str] | None = None) -> Path:
    """Write an i2i run directory (config.yaml, domains.json, one safetensors checkpoint, fan.safetensors)
    for a StarGAN v2 checkpoint; a sibling ``{step}_nets.ckpt`` adds the training networks and D."""
    ckpt_path, out = Path(ckpt_path), Path(out)
    ckpt = load_stargan_v2(ckpt_path)
    cfg, num_domains = infer_model_config(ckpt)
    domains = list(domains) if domains else default_domains(cfg, num_domains)
    if len(domains) != num_domains:
        raise ValueError(f"--domains names {len(domains)} domains, the checkpoint has {num_domains}")
    if cfg.model.w_hpf > 0 and wing is None:
        raise ValueError(f"this is a face model (w_hpf={cfg.model.w_hpf:g}): pass --wing wing.ckpt (the FAN weights "
                         "released with StarGAN v2) so its generator gets face masks")
    if latest_checkpoint(out) is not None:
        raise FileExistsError(f"{out} already holds a checkpoint: choose another --out")
    match = re.search(r"(\d+)_nets(_ema)?\.ckpt$", ckpt_path.name)
    step = int(match.group(1)) if match else 0

    ema = build_networks(cfg.model, num_domains, discriminator=False)
    _load(ema, ckpt, str(ckpt_path))
    train_path = ckpt_path.with_name(ckpt_path.name.replace("_nets_ema.ckpt", "_nets.ckpt"))
    nets = ema
    if "discriminator" in ckpt or (train_path != ckpt_path and train_path.is_file()):
        train_ckpt = ckpt if "discriminator" in ckpt else load_stargan_v2(train_path)
        if "discriminator" in train_ckpt:
            nets = build_networks(cfg.model, num_domains)
            _load(nets, train_ckpt, str(train_path if train_ckpt is not ckpt else ckpt_path))
    fan = load_fan(wing) if cfg.model.w_hpf > 0 else None

    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / CONFIG_FILE)
    write_domains(out, domains)
    if fan is not None:
        write_weights(out / FAN_FILE, fan)
    save_checkpoint(out, step, nets, ema, {"converted_from": str(ckpt_path.resolve())}, keep=0)
    log.info("converted %s: %s", ckpt_path.name, ", ".join(f"{k}={v}" for k, v in vars(cfg.model).items()))
    return out
