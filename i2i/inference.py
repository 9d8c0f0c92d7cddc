"""Inference on a trained run: load the EMA networks once, draw style codes, decode one source with many styles."""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image, ImageOps

from i2i.backends import build_decoder
from i2i.config import MAX_SEED, Config
from i2i.data.images import pil_to_uint8, to_float, to_rgb, to_uint8
from i2i.device import resolve_device
from i2i.hub import load_networks, push_to_hub, resolve_model, save_pretrained
from i2i.kinds import model_kind
from i2i.media import translation_cells
from i2i.models import Networks
from i2i.models.blocks import default_base_dim
from i2i.models.fan import FAN, load_fan
from i2i.rundir import FAN_FILE, resolve_checkpoint


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


def slerp_styles(s0: torch.Tensor, s1: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of style codes (norms interpolated linearly): (N, D), (N, D), (F,) -> (N, F, D).

    Falls back to lerp where the two codes are (nearly) parallel.
    """
    a = alphas.to(s0)[None, :, None]
    n0, n1 = s0.norm(dim=-1, keepdim=True), s1.norm(dim=-1, keepdim=True)
    u0, u1 = s0 / n0.clamp_min(1e-12), s1 / n1.clamp_min(1e-12)
    omega = torch.acos((u0 * u1).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))[:, None]
    sin = torch.sin(omega)
    direction = (torch.sin((1 - a) * omega) * u0[:, None] + torch.sin(a * omega) * u1[:, None]) / sin.clamp_min(1e-7)
    radius = n0[:, None] + a * (n1 - n0)[:, None]
    return torch.where(sin > 1e-4, direction * radius, lerp_styles(s0, s1, alphas))


INTERPOLATIONS = {"lerp": lerp_styles, "slerp": slerp_styles}
MAX_STEPS = 200


def check_steps(steps, limit: int = MAX_STEPS) -> int:
    """The number of interpolation frames as an int; ValueError unless it is a whole number from 2 to ``limit``."""
    try:
        value = int(steps)
    except (TypeError, ValueError, OverflowError):
        value = None
    if value is None or value != steps or not 2 <= value <= limit:
        raise ValueError(f"steps must be between 2 and {limit}, got {steps!r}")
    return value


@dataclass
class StyleSpec:
    """Where a style code comes from: ``code`` if given, else ``reference`` (an image), else ``seed``."""

    domain: str | int
    seed: int = 0
    reference: object = None  # path, PIL image or image tensor
    code: torch.Tensor | None = None
    center_crop: bool = True

    def __post_init__(self):
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral) or not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"a style seed must be a whole number from 0 to {MAX_SEED}, got {str(self.seed)[:40]}")


class UnreadableImageError(ValueError):
    """An input file is not an image PIL can decode (or a truncated or oversized one)."""


def prepare_image(image, size: int, center_crop: bool = True) -> torch.Tensor:
    """Any image (path, PIL image in any mode, uint8 tensor, or float tensor in [-1, 1]) -> float (3, S, S) in
    [-1, 1] at the model's size; non-square images are centre-cropped first (or squashed without)."""
    if isinstance(image, torch.Tensor):
        x = image.float() if image.dtype != torch.uint8 else to_float(image)
        if x.dim() != 3 or x.size(0) != 3:
            raise ValueError(f"expected an image tensor (3, H, W), got shape {tuple(image.shape)}")
        h, w = x.shape[1:]
        if center_crop and h != w:
            side = min(h, w)
            x = x[:, (h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
        return torch.nn.functional.interpolate(x[None], size=(size, size), mode="bilinear", align_corners=False,
                                               antialias=True)[0] if x.shape[1:] != (size, size) else x
    if isinstance(image, (str, Path)):
        try:
            with Image.open(image) as img:
                img.load()
                return prepare_image(img, size, center_crop)
        except FileNotFoundError:
            raise FileNotFoundError(f"image {image} does not exist") from None
        except (OSError, ValueError, Image.DecompressionBombError) as err:  # PIL: unidentified, truncated, bomb
            raise UnreadableImageError(f"{image} is not a readable image ({type(err).__name__}: {err})") from None
    img = to_rgb(image)
    if center_crop:
        img = ImageOps.fit(img, (min(img.size),) * 2, Image.BICUBIC)
    return to_float(pil_to_uint8(img, size))


class Translator:
    """The EMA generator, mapping network and style encoder of one run, in eval mode, on one device.

    Parameters
    ----------
    nets : Networks
        EMA networks (no discriminator).
    fan : FAN, optional
        Face-alignment network for models with the high-pass path (``model.w_hpf > 0``): the generator then
        gets StarGAN v2's face masks of each source.
    cfg : Config
        The run's configuration.
    domains : list of str
        Domain names, in label order.
    device : torch.device
    source : str
        Where the weights came from (shown in reports).
    """

    def __init__(self, nets: Networks, cfg: Config, domains: list[str], device: torch.device, source: str = "",
                 fan: FAN | None = None, backend: str = "eager"):
        if cfg.model.w_hpf > 0 and fan is None:
            raise ValueError(f"this model has model.w_hpf={cfg.model.w_hpf}: its generator needs face masks from the "
                             f"FAN network, which the run directory lacks ({FAN_FILE}). Convert the model with "
                             "`i2i convert --from stargan-v2 CKPT --wing wing.ckpt --out RUN_DIR`")
        self.fan = fan.to(device) if fan is not None and cfg.model.w_hpf > 0 else None
        self.nets = nets.to(device)
        for _, net in nets.items():
            net.eval().requires_grad_(False)
        self.cfg, self.domains, self.device, self.source = cfg, list(domains), device, source
        self.decode_batch = default_decode_batch(cfg.model, device)
        self.decoder, self.backend = build_decoder(backend, self)

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "auto", backend: str = "eager") -> "Translator":
        """Load the EMA weights of a run directory, checkpoint folder or ``nets_ema.safetensors`` file; ``backend``
        says where the generator's decodes run (:mod:`i2i.backends`)."""
        run_dir, weights = resolve_checkpoint(path)
        return cls.from_folder(run_dir, weights, device, backend)

    @classmethod
    def from_folder(cls, folder: str | Path, weights: str | Path, device: str | torch.device = "auto",
                    backend: str = "eager") -> "Translator":
        """The model described by ``folder`` (``config.yaml``, ``domains.json``, ``fan.safetensors`` for face models)
        with the EMA weights of ``weights``: a run directory and one of its checkpoints, or a saved model folder."""
        folder = Path(folder)
        cfg, domains, nets = load_networks(folder, weights)
        device = device if isinstance(device, torch.device) else resolve_device(device)
        fan = load_fan(folder / FAN_FILE) if cfg.model.w_hpf > 0 and (folder / FAN_FILE).is_file() else None
        return cls(nets, cfg, domains, device, source=str(weights), fan=fan, backend=backend)

    @classmethod
    def from_pretrained(cls, name: str | Path, device: str | torch.device = "auto", **kwargs) -> "Translator":
        """Load a saved model folder, a ``file://`` URL of one, a run directory (``RUN:best`` too) or a Hugging Face
        Hub repository id (see :mod:`i2i.hub`)."""
        return cls.from_folder(*resolve_model(name, **kwargs), device)

    def save_pretrained(self, folder: str | Path, report_md: str | None = None, overwrite: bool = False) -> Path:
        """Write this model in the Hugging Face Hub layout (config, safetensors weights, domains, a model card with the
        training config and ``report_md``, an evaluation report, by default the run's own); a non-empty folder only with
        ``overwrite``."""
        return save_pretrained(self, folder, report_md, overwrite)

    def push_to_hub(self, repo_id: str, **kwargs) -> str:
        """Upload this model to a Hugging Face Hub repository (needs a connection and a write token)."""
        return push_to_hub(self, repo_id, **kwargs)

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

        Each source goes through the style-independent encoder (and FAN, for face models) once; the N * K
        decodes run in one batch, or in chunks of ``self.decode_batch`` (see :func:`default_decode_batch`).
        """
        n, k = styles.shape[:2]
        out = self.decode_rows(sources, styles.flatten(0, 1), torch.arange(n).repeat_interleave(k))
        return out.view(n, k, *out.shape[1:])

    @torch.inference_mode()
    def decode_rows(self, sources: torch.Tensor, styles: torch.Tensor, owners: torch.Tensor) -> torch.Tensor:
        """Sources (N, 3, S, S) under styles (R, D), row r translating source ``owners[r]``: (R, 3, S, S) in [-1, 1]
        (several requests with different numbers of styles, decoded together)."""
        sources = sources.to(self.device)
        masks = self.fan.face_masks(sources) if self.fan is not None else None
        return self.decoder.decode_rows(sources, styles.to(self.device), owners.to(self.device), masks,
                                        self.decode_batch)

    def decode_interpolation(self, sources: torch.Tensor, s0: torch.Tensor, s1: torch.Tensor,
                             alphas: torch.Tensor, method: str = "lerp") -> torch.Tensor:
        """Frames ``G(x, interp(s0, s1, alpha))`` for every alpha: (N, 3, S, S), (N, D), (N, D), (F,) ->
        (N, F, 3, S, S)."""
        return self.decode_many(sources, INTERPOLATIONS[method](s0, s1, alphas))

    def domain_label(self, domain: str | int) -> int:
        """Label of a domain given by name, or by index (a Python ``int``, or a string of digits that names no
        domain while no domain name is a number); a clear error listing the domains otherwise."""
        if isinstance(domain, str):
            if domain in self.domains:
                return self.domains.index(domain)
            if domain.isdigit() and not any(d.isdigit() for d in self.domains) and len(domain) < 6:
                domain = int(domain)
        if isinstance(domain, int) and not isinstance(domain, bool) and 0 <= domain < self.num_domains:
            return domain
        raise ValueError(f"unknown domain {str(domain)[:40]!r}: this model has {', '.join(self.domains)}")

    def domain_name(self, domain: str | int) -> str:
        """The name of a domain given by name or index (:meth:`domain_label`)."""
        return self.domains[self.domain_label(domain)]

    def style(self, spec: "StyleSpec") -> torch.Tensor:
        """One style code (D,): from a reference image, a seed of the mapping network, or given explicitly."""
        label = self.domain_label(spec.domain)
        if spec.code is not None:
            return spec.code.to(self.device).float().flatten()
        if spec.reference is not None:
            ref = prepare_image(spec.reference, self.img_size, spec.center_crop)
            return self.reference_styles(ref[None], torch.tensor([label]))[0]
        return self.latent_styles(torch.tensor([label]), torch.Generator().manual_seed(spec.seed))[0]

    @torch.inference_mode()
    def domain_of(self, images, batch_size: int = 256) -> torch.Tensor:
        """The (pseudo-)domain label of each image (paths, PIL images, uint8/float tensors, a (N, 3, H, W) batch, or
        one image): (N,) long.

        The model's kind labels them (:meth:`i2i.kinds.ModelKind.label_images`): StarGAN v2 by the nearest domain
        centre of style codes, TUNIT by the guiding network's cluster.
        """
        if isinstance(images, (str, Path, Image.Image)) or (isinstance(images, torch.Tensor) and images.dim() == 3):
            images = [images]
        chunks = torch.stack([prepare_image(im, self.img_size) for im in images]).split(batch_size)
        return model_kind(self.cfg.model).label_images(self, list(chunks))

    def translate(self, images, style: "StyleSpec") -> torch.Tensor:
        """Translate images (paths, PIL images or uint8/float tensors, or one of them) under one style: uint8
        (N, 3, S, S)."""
        if isinstance(images, (str, Path, Image.Image)) or (isinstance(images, torch.Tensor) and images.dim() == 3):
            images = [images]  # one image, not a sequence of characters or rows
        x = torch.stack([prepare_image(im, self.img_size, style.center_crop) for im in images])
        s = self.style(style)
        return to_uint8(self.decode_many(x, s.expand(x.size(0), 1, -1))[:, 0])

    def translation_grid(self, images, styles: list["StyleSpec"]) -> torch.Tensor:
        """StarGAN v2's reference figure as uint8 cells, row-major with ``len(styles) + 1`` columns: a header row
        (blank corner, then the references) when every style has a reference, then per source the source and
        its translations under every style. All decodes run in one batched call."""
        x = torch.stack([prepare_image(im, self.img_size) for im in images])
        codes = torch.stack([self.style(spec) for spec in styles])
        refs = None
        if all(spec.reference is not None for spec in styles):
            refs = torch.stack([prepare_image(spec.reference, self.img_size) for spec in styles])
        return to_uint8(translation_cells(x, self.decode_many(x, codes.expand(x.size(0), -1, -1)), refs))

    def interpolate(self, image, start: "StyleSpec", end: "StyleSpec", steps: int = 20,
                    method: str = "lerp") -> tuple[torch.Tensor, torch.Tensor]:
        """Frames uint8 (steps, 3, S, S) from ``start`` to ``end`` (both included) and the style codes used
        (steps, D); intra-domain when both ends share a domain, inter-domain otherwise. One batched decode."""
        styles = self.interpolation_styles(start, end, steps, method)
        x = prepare_image(image, self.img_size, start.center_crop)[None]
        return to_uint8(self.decode_many(x, styles[None])[0]), styles

    def interpolation_styles(self, start: "StyleSpec", end: "StyleSpec", steps: int = 20,
                             method: str = "lerp") -> torch.Tensor:
        """The style codes (steps, D) of an interpolation from ``start`` to ``end``, both included."""
        check_steps(steps)
        if method not in INTERPOLATIONS:
            raise ValueError(f"unknown interpolation {method!r}: choose one of {', '.join(INTERPOLATIONS)}")
        return INTERPOLATIONS[method](self.style(start)[None], self.style(end)[None], torch.linspace(0, 1, steps))[0]
