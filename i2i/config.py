"""Typed configuration: dataclasses loaded from YAML, ``--set a.b=value`` overrides, validation."""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from i2i.rundir import write_text


BIG = 10**9  # upper bound of counts and iterations: anything larger is a typo, not a plan
MAX_SEED = 2**31 - 1  # largest seed the CLI and the app accept (fits every RNG's seed type)


def num(default, low, high, *, low_open: bool = False, high_open: bool = False):
    """A numeric field whose value must lie in ``[low, high]`` (ends open where asked); None passes when the
    default is None."""
    return field(default=default, metadata={"range": (low, high, low_open, high_open)})


def choice(default: str, *options: str):
    """A string field restricted to ``options`` (YAML's yes/no booleans are read back as "yes"/"no")."""
    return field(default=default, metadata={"choices": options})


@dataclass
class ModelConfig:
    """Network shapes; the defaults reproduce StarGAN v2 at 256 px.

    Fields marked [recipe] are not in StarGAN v2 or the paper: the quick starts use them to train small models in
    minutes (docs/quickstart_recipe.md, docs/glyphs.md); their defaults are StarGAN v2's behaviour."""

    img_size: int = 256  # a power of two from 32 to 512 (checked in validate)
    style_dim: int = num(64, 1, 4096)
    latent_dim: int = num(16, 1, 4096)
    hidden_dim: int = num(512, 1, 65536)
    max_conv_dim: int = num(512, 1, 65536)
    base_dim: int | None = num(None, 1, 65536)  # None: StarGAN v2's 2**14 // img_size
    # [recipe] spatial size of G's encoder output. None: StarGAN v2's 16 at every img_size (one halving at 32 px)
    bottleneck_size: int | None = num(None, 4, 256)
    w_hpf: float = num(0.0, 0.0, 1e6)
    # [recipe] False: StarGAN v2's He initialisation everywhere. True: the generator's residual branches start at zero
    # (G begins as a copy of its input), which keeps the content from the first iteration on short schedules.
    zero_init_residual: bool = False
    # [recipe] False: StarGAN v2's generator. True: the decoder reads the content features moved by a style-conditioned
    # smooth warp (i2i.models.warp), so a style can change where strokes lie (slant, proportions)
    warp: bool = False
    # [recipe] True: StarGAN v2's output layer, whose instance norm standardises each feature channel per image (the
    # source's colours do not pass the shortcut). False: no norm there, so colours pass unless the style changes them
    rgb_norm: bool = True
    # [recipe] False: G's first and last convolutions and its 1x1 shortcuts start random. True: they start so that G
    # is an exact copy of its input at the bottleneck's resolution (Generator.start_as_copy); needs
    # zero_init_residual, rgb_norm false and w_hpf 0
    copy_start: bool = False
    # [recipe] D's widths (first width and cap) are G's times this. 1: StarGAN v2's D, as wide as G's encoder
    disc_width: int = num(1, 1, 16)
    # "stargan_v2": domain folders give the labels; M maps z to styles, E encodes references.
    # "tunit": no labels (TUNIT, Baek et al. 2021): a guiding network clusters the images into num_clusters
    # pseudo-domains and encodes styles (it takes E's place); styles are sampled per cluster (ClusterStyles).
    kind: str = choice("stargan_v2", "stargan_v2", "tunit")
    num_clusters: int = num(10, 2, 4096)  # TUNIT's K (pseudo-domains); tunit only
    guide_width: int = num(64, 1, 4096)  # first width of the guiding network's VGG11 trunk (TUNIT: 64); tunit only


@dataclass
class DataConfig:
    """Dataset location, loading and augmentation."""

    root: str = "data/synthetic"
    randcrop_prob: float = num(0.5, 0.0, 1.0)
    # StarGAN v2 flips every other training image. Off where a mirror image has another style or content (the
    # slant of an italic, a character): there a flip would teach both directions as one style
    hflip: bool = True
    num_workers: int = num(2, 0, 256)
    cache_images: str = choice("auto", "auto", "yes", "no")  # keep decoded images in memory


@dataclass
class LossConfig:
    """Loss weights: StarGAN v2's terms and the paper's triplet, SR and content terms (0 switches one off); [recipe]
    marks what neither has (see :class:`ModelConfig`)."""

    lambda_reg: float = num(1.0, 0.0, 1e6)
    lambda_sty: float = num(1.0, 0.0, 1e6)
    lambda_ds: float = num(1.0, 0.0, 1e6)
    ds_iter: int = num(100000, 1, BIG)
    lambda_cyc: float = num(1.0, 0.0, 1e6)
    lambda_tri: float = num(1.0, 0.0, 1e6)
    tri_margin: float = num(0.1, 0.0, 1e6)
    lambda_sr: float = num(1.0, 0.0, 1e6)
    sr_start: int = num(40000, 0, BIG)
    sr_ramp: int = num(60000, 0, BIG)
    lambda_cont: float = num(1.0, 0.0, 1e6)
    # [recipe] D also sees other domains' real sources, recoloured to the hue of the target's reference, as fakes of the
    # target head, so it must judge a domain by more than its colours (0: StarGAN v2; see stargan_v2_losses.discriminator_loss)
    lambda_recoloured: float = num(0.0, 0.0, 1e6)
    # [recipe] false: those other domains' reals are fed as they are, not recoloured (where colour is content, a
    # recoloured real is no real of any domain, but an unchanged one is still no real of the target domain)
    recolour_negatives: bool = True
    # the content loss's LPIPS trunk: "pretrained" (fetched when missing; training stops before the first iteration
    # when it cannot be had) or "random" (asked for explicitly; the run's log and reports say random-weights)
    lpips_weights: str = choice("pretrained", "pretrained", "random")
    # True: triplet/SR on encoder codes also step E in reference iterations (the paper's intent).
    # False: reproduce the authors' code, where reference iterations step G only.
    smooth_trains_encoder: bool = True
    # [recipe] True: reference iterations also step E with the adversarial term of G(x, E(x_ref)), so a real
    # reference must encode to a code that D accepts in its domain. False: StarGAN v2, where E learns only from
    # fakes (style reconstruction) and reference-guided translations may carry their domain less than latent ones
    reference_trains_encoder: bool = False

    @property
    def smoothing_on(self) -> frozenset[str]:
        """The paper's terms switched on (``tri``, ``sr``, ``cont`` with a weight > 0): computed and logged every
        iteration, also while a schedule holds their weight at 0. The one switch every trainer reads."""
        weights = {"tri": self.lambda_tri, "sr": self.lambda_sr, "cont": self.lambda_cont}
        return frozenset(name for name, weight in weights.items() if weight > 0)


@dataclass
class TrainConfig:
    """Optimisation, schedule, logging and checkpointing; [recipe] marks what StarGAN v2 does not have."""

    total_iters: int = num(100000, 1, BIG)
    batch_size: int = num(8, 1, 65536)
    lr: float = num(1e-4, 0.0, 1.0, low_open=True)
    f_lr: float = num(1e-6, 0.0, 1.0)
    # [recipe] every rate decays linearly to 0 over the last lr_decay_iters iterations (CycleGAN); 0: constant
    lr_decay_iters: int = num(0, 0, BIG)
    beta1: float = num(0.0, 0.0, 1.0, high_open=True)
    beta2: float = num(0.99, 0.0, 1.0, high_open=True)
    weight_decay: float = num(1e-4, 0.0, 1.0)
    ema_beta: float = num(0.999, 0.0, 1.0)
    seed: int = num(777, 0, 2**63 - 1)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: str = choice("none", "none", "bf16", "fp16")  # mixed precision, CUDA only
    # NHWC memory format: helps tensor cores with amp on CUDA; on CPU it depends on the widths
    # (measure with benchmarks/train_step.py)
    channels_last: bool = False
    compile: bool = False  # torch.compile G, M and E blocks (D stays eager: R1 needs double backward)
    log_every: int = num(10, 1, BIG)
    sample_every: int = num(5000, 1, BIG)
    save_every: int = num(10000, 1, BIG)
    keep_checkpoints: int = num(3, 1, 10**6)  # besides the best one (train.best_metric), which is always kept
    # every eval_every iterations (0: never) the EMA model is scored on eval_sources validation images per domain
    # with the cheap metrics the data allow (i2i.training.best_checkpoint); best_metric "key:max" or "key:min" (a report key
    # such as gt_nearest_iou, content_iou, ps_pixel_inter; ps_pixel_inter:max, with a warning, where the data lack it)
    # keeps checkpoints/best.json, which --checkpoint RUN:best loads
    eval_every: int = num(0, 0, BIG)
    eval_sources: int = num(8, 1, 10**6)
    best_metric: str = ""
    fan_weights: str = ""  # wing.ckpt or fan.safetensors: the FAN face masks that model.w_hpf > 0 needs


@dataclass
class TunitConfig:
    """TUNIT's guiding-network and generator terms (``model.kind: tunit``); defaults are TUNIT's code's.

    Guiding step: ``L_moco + w_iic * L_IIC``, scaled by ``guide_scale`` once the GAN trains (from ``separated``).
    G step: ``L_adv(fake) + L_adv(rec) + w_rec L_rec + w_vec L_style`` plus the paper's triplet, SR and content terms (``loss.lambda_*``). D: hinge loss with R1
    weighted ``loss.lambda_reg`` (TUNIT's w_gp 10 on ``sum / batch`` is ``lambda_reg: 20`` with this project's
    ``0.5 * sum / batch`` R1).
    """

    w_iic: float = num(5.0, 0.0, 1e6)
    # the first `separated` iterations train the guiding network alone with its loss at full weight; from then on
    # the GAN trains too and the guiding loss is scaled by guide_scale (TUNIT's `separated`, in iterations)
    separated: int = num(0, 0, BIG)
    guide_scale: float = num(0.1, 0.0, 1e6)
    w_rec: float = num(0.1, 0.0, 1e6)
    w_vec: float = num(0.01, 0.0, 1e6)
    temperature: float = num(0.07, 0.0, 1e6, low_open=True)
    queue_size: int = num(1024, 1, BIG)
    guide_ema: float = num(0.999, 0.0, 1.0)  # momentum copy of the guiding network (MoCo keys)
    ema_start: int = num(1000, 0, BIG)  # G's EMA starts here (TUNIT: after the first 1000-iteration epoch)
    # augmented view for IIC and MoCo: resized crop (scale crop_scale-1), flip, colour jitter
    crop_scale: float = num(0.8, 0.01, 1.0)
    jitter: float = num(0.4, 0.0, 1.0)  # brightness, contrast and saturation factors in [1 - j, 1 + j]
    hue: float = num(0.125, 0.0, 0.5)  # hue shift in turns, uniform in [-hue, hue]


@dataclass
class Config:
    """The whole experiment."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    tunit: TunitConfig = field(default_factory=TunitConfig)

    def validate(self) -> "Config":
        """Raise ValueError naming the first field whose value cannot work; return self."""
        for section in dataclasses.fields(self):
            group = getattr(self, section.name)
            for f in dataclasses.fields(group):
                check_field(f"{section.name}.{f.name}", getattr(group, f.name), f.metadata)
        try:
            check_img_size(self.model.img_size)
        except ValueError as err:
            raise ValueError(f"model.img_size: {err}") from None
        try:
            check_bottleneck_size(self.model.bottleneck_size, self.model.img_size)
        except ValueError as err:
            raise ValueError(f"model.bottleneck_size: {err}") from None
        key, colon, direction = self.train.best_metric.partition(":")
        if self.train.best_metric and (not key or not colon or direction not in ("max", "min")):
            raise ValueError(f"train.best_metric must look like KEY:max or KEY:min (e.g. gt_nearest_iou:max), got "
                             f"{self.train.best_metric!r}")
        if self.train.best_metric and not self.train.eval_every:
            raise ValueError("train.best_metric needs train.eval_every > 0 (how often the metric is measured)")
        if self.model.warp and self.model.w_hpf > 0:
            raise ValueError("model.warp moves the content features but not the face high-pass skips of model.w_hpf "
                             "> 0: set one of them to 0")
        m = self.model
        if m.copy_start and (not m.zero_init_residual or m.rgb_norm or m.w_hpf > 0 or (m.base_dim or 6) < 6):
            raise ValueError("model.copy_start needs model.zero_init_residual=true, model.rgb_norm=false, "
                             "model.w_hpf=0 and model.base_dim of at least 6")
        for key in ignored_fields(self.model.kind):
            section, name = key.split(".")
            value, default = getattr(getattr(self, section), name), getattr(getattr(Config(), section), name)
            if value != default:
                raise ValueError(f"{key} is not used by model.kind={self.model.kind}: remove it from the config (or "
                                 f"set it back to its default {default!r}; got {value!r})")
        if self.model.kind == "tunit" and self.model.latent_dim != self.model.style_dim:
            raise ValueError(f"model.kind=tunit samples styles as mu_y + sigma_y * z: model.latent_dim "
                             f"({self.model.latent_dim}) must equal model.style_dim ({self.model.style_dim})")
        return self


# What each model kind never reads. Set away from its default such a field would be a silent no-op, so it is an error.
IGNORED_BY_KIND = {
    "stargan_v2": ("model.num_clusters", "model.guide_width", "tunit.*"),
    "tunit": ("model.hidden_dim", "model.w_hpf", "loss.lambda_sty", "loss.lambda_ds", "loss.ds_iter",
              "loss.lambda_cyc", "loss.smooth_trains_encoder", "loss.reference_trains_encoder",
              "loss.lambda_recoloured", "loss.recolour_negatives",
              "train.f_lr", "train.channels_last", "train.compile", "train.fan_weights"),
}


def ignored_fields(kind: str) -> list[str]:
    """The ``section.field`` keys that model kind ``kind`` ignores (``section.*`` expanded)."""
    keys = []
    for key in IGNORED_BY_KIND[kind]:
        section, name = key.split(".")
        group = typing.get_type_hints(Config)[section]
        keys += [f"{section}.{f.name}" for f in dataclasses.fields(group)] if name == "*" else [key]
    return keys


def check_img_size(img_size: int) -> int:
    """Return ``log2(img_size)``; raise unless it is a power of two in [32, 512] (the networks' stage rule)."""
    log2 = int(round(math.log2(img_size))) if img_size > 0 else -1
    if img_size < 32 or img_size > 512 or 2**log2 != img_size:
        raise ValueError(f"img_size must be a power of two from 32 to 512, got {img_size}")
    return log2


def check_bottleneck_size(size: int | None, img_size: int) -> int:
    """Return ``log2(size)`` (None: StarGAN v2's 16); raise unless it is a power of two from 4 to ``img_size``."""
    size = 16 if size is None else size
    log2 = int(round(math.log2(size))) if size > 0 else -1
    if size < 4 or size > img_size or 2**log2 != size:
        raise ValueError(f"must be a power of two from 4 to img_size = {img_size}, got {size}")
    return log2


def check_field(key: str, value: Any, metadata) -> None:
    """Raise ValueError when ``value`` is outside the field's range or choices (see :func:`num`, :func:`choice`)."""
    if "choices" in metadata and value not in metadata["choices"]:
        raise ValueError(f"{key} must be one of {', '.join(metadata['choices'])}, got {value!r}")
    if "range" not in metadata or value is None:
        return
    low, high, low_open, high_open = metadata["range"]
    finite = not isinstance(value, float) or math.isfinite(value)  # ints of any size compare exactly
    ok = finite and (low < value if low_open else low <= value) and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        shown = repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:20]}... ({len(repr(value))} digits)"
        raise ValueError(f"{key} must be in {interval}, got {shown}")


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
        if isinstance(value, bool):  # YAML 1.1 reads yes/no (and on/off) as booleans
            return "yes" if value else "no"
        if isinstance(value, (str, int, float)):
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
        node[leaf] = parse_yaml(raw, f"--set {key.strip()}") if raw.strip() else ""
    return data


def migrate(data: dict) -> dict:
    """Rewrite keys of configs written by earlier versions (run directories keep their config.yaml) in place:
    ``train.lpips_random_weights: true|false`` became ``loss.lpips_weights: random|pretrained``;
    ``loss.tri_hard_negatives`` (batch-hard triplet negatives, an experiment no result used) was removed and is
    dropped where it is off."""
    loss = data.get("loss")
    if isinstance(loss, dict) and "tri_hard_negatives" in loss:
        if loss["tri_hard_negatives"]:
            raise ValueError("loss.tri_hard_negatives was removed (batch-hard triplet negatives); remove it from the "
                             "config: the triplet negative is the paper's")
        del loss["tri_hard_negatives"]
    train = data.get("train")
    if isinstance(train, dict) and "lpips_random_weights" in train:
        random = train.pop("lpips_random_weights")
        loss = data.setdefault("loss", {})
        if isinstance(loss, dict):
            loss.setdefault("lpips_weights", "random" if random else "pretrained")
    return data


def parse_yaml(text: str, source: str):
    """``yaml.safe_load(text)``, with a syntax error as one ValueError naming ``source`` and the line and column."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ValueError(f"{source}{where}: YAML syntax error: {problem}") from None


def read_text_file(path: str | Path, what: str = "file") -> str:
    """The UTF-8 text of ``path``; a binary or otherwise undecodable file is one ValueError naming it."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{what} {path} is not UTF-8 text (byte {err.start}): a binary or corrupt file?") from None


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Load a YAML file (or the defaults when ``path`` is None), apply overrides, validate."""
    data: dict = {}
    if path is not None:
        data = parse_yaml(read_text_file(path, "config"), f"config {path}") or {}
        if not isinstance(data, dict):
            raise ValueError(f"config {path} must hold a mapping of sections (model:, data:, loss:, train:), "
                             f"got a {type(data).__name__}")
        data = migrate(data)
    apply_overrides(data, overrides or [])
    return _from_dict(Config, data).validate()


def config_to_dict(cfg: Config) -> dict:
    """Plain nested dict of a config."""
    return dataclasses.asdict(cfg)


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the resolved config as YAML (atomically)."""
    write_text(path, yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
