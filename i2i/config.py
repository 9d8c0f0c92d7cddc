"""Typed configuration: dataclasses loaded from YAML, ``--set a.b=value`` overrides, validation."""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class ModelConfig:
    """Network shapes; the defaults reproduce StarGAN v2 at 256 px."""

    img_size: int = 256
    style_dim: int = 64
    latent_dim: int = 16
    hidden_dim: int = 512
    max_conv_dim: int = 512
    base_dim: int | None = None  # None: StarGAN v2's 2**14 // img_size
    w_hpf: float = 0.0
    # False: StarGAN v2's He initialisation everywhere. True: the generator's residual branches start at zero
    # (G begins as a copy of its input), which keeps the content from the first iteration on short schedules.
    zero_init_residual: bool = False


@dataclass
class DataConfig:
    """Dataset location and loading."""

    root: str = "data/synthetic"
    randcrop_prob: float = 0.5
    num_workers: int = 2
    cache_images: str = "auto"  # auto | yes | no: keep decoded images in memory


@dataclass
class LossConfig:
    """Loss weights: StarGAN v2's terms and the paper's triplet, SR and content terms (0 switches one off)."""

    lambda_reg: float = 1.0
    lambda_sty: float = 1.0
    lambda_ds: float = 1.0
    ds_iter: int = 100000
    lambda_cyc: float = 1.0
    lambda_tri: float = 1.0
    tri_margin: float = 0.1
    tri_hard_negatives: bool = False
    lambda_sr: float = 1.0
    sr_start: int = 40000
    sr_ramp: int = 60000
    lambda_cont: float = 1.0
    # True: triplet/SR on encoder codes also step E in reference iterations (the paper's intent).
    # False: reproduce the authors' code, where reference iterations step G only.
    smooth_trains_encoder: bool = True


@dataclass
class TrainConfig:
    """Optimisation, schedule, logging and checkpointing."""

    total_iters: int = 100000
    batch_size: int = 8
    lr: float = 1e-4
    f_lr: float = 1e-6
    beta1: float = 0.0
    beta2: float = 0.99
    weight_decay: float = 1e-4
    ema_beta: float = 0.999
    seed: int = 777
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: str = "none"  # none | bf16 | fp16 (CUDA only)
    channels_last: bool = False  # NHWC memory format (helps tensor cores with amp on CUDA)
    compile: bool = False  # torch.compile G, M and E blocks (D stays eager: R1 needs double backward)
    log_every: int = 10
    sample_every: int = 5000
    save_every: int = 10000
    keep_checkpoints: int = 3
    lpips_random_weights: bool = False  # tests only: random AlexNet trunk in the content loss
    fan_weights: str = ""  # wing.ckpt or fan.safetensors: the FAN face masks that model.w_hpf > 0 needs


@dataclass
class Config:
    """The whole experiment."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> "Config":
        """Raise ValueError on values that cannot work; return self."""
        from .models.blocks import check_img_size

        check_img_size(self.model.img_size)
        checks = [
            (self.train.batch_size >= 1, "train.batch_size must be >= 1"),
            (self.train.total_iters >= 0, "train.total_iters must be >= 0"),
            (self.train.amp in ("none", "bf16", "fp16"), "train.amp must be none, bf16 or fp16"),
            (self.data.cache_images in ("auto", "yes", "no"), "data.cache_images must be auto, yes or no"),
            (0.0 <= self.data.randcrop_prob <= 1.0, "data.randcrop_prob must be in [0, 1]"),
            (self.loss.tri_margin >= 0, "loss.tri_margin must be >= 0"),
            (self.loss.ds_iter >= 1, "loss.ds_iter must be >= 1"),
            (self.loss.sr_start >= 0 and self.loss.sr_ramp >= 0, "loss.sr_start and loss.sr_ramp must be >= 0"),
            (0.0 <= self.train.ema_beta <= 1.0, "train.ema_beta must be in [0, 1]"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        return self


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Check and convert one YAML value to the field's annotated type."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if value is None and type(None) in args:
            return None
        annotation = next(a for a in args if a is not type(None))
    if annotation is bool:
        if isinstance(value, bool):
            return value
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "3e-4" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif annotation is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    raise ValueError(f"config key {key!r} expects {getattr(annotation, '__name__', annotation)}, got {value!r}")


def _from_dict(cls, data: dict, prefix: str = ""):
    if not isinstance(data, dict):
        raise ValueError(f"config section {prefix.rstrip('.') or '<root>'!r} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"unknown config key(s): {', '.join(prefix + k for k in unknown)} "
                         f"(known in this section: {', '.join(sorted(names))})")
    kwargs = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _from_dict(hint, value, f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(value, hint, prefix + name)
    return cls(**kwargs)


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``a.b=value`` strings (values parsed as YAML scalars) to a nested dict in place."""
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} must look like section.key=value")
        key, raw = item.split("=", 1)
        *path, leaf = key.strip().split(".")
        node = data
        for part in path:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {item!r}: {part!r} is not a section")
        node[leaf] = yaml.safe_load(raw) if raw.strip() else ""
    return data


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Load a YAML file (or the defaults when ``path`` is None), apply overrides, validate."""
    data: dict = {}
    if path is not None:
        text = Path(path).read_text()
        data = yaml.safe_load(text) or {}
    apply_overrides(data, overrides or [])
    return _from_dict(Config, data).validate()


def config_to_dict(cfg: Config) -> dict:
    """Plain nested dict of a config."""
    return dataclasses.asdict(cfg)


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the resolved config as YAML."""
    Path(path).write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
