"""Image decoding to RGB uint8 tensors and StarGAN v2's training augmentation."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")


def to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL mode to RGB: EXIF rotation applied, 16-bit/float greyscale rescaled, alpha dropped."""
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
        img = Image.fromarray(arr.astype(np.uint8), mode="L")
    return img.convert("RGB")


def pil_to_uint8(img: Image.Image, size: int | None = None) -> torch.Tensor:
    """PIL image -> (3, H, W) uint8 tensor, optionally resized (bilinear, antialiased) to size x size."""
    img = to_rgb(img)
    if size is not None and img.size != (size, size):
        img = img.resize((size, size), Image.BILINEAR)
    return torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1).contiguous()


def load_image(path, size: int | None = None) -> torch.Tensor:
    """Decode an image file fully (raises on corrupt files) into a (3, size, size) uint8 tensor."""
    with Image.open(path) as img:
        img.load()
        return pil_to_uint8(img, size)


def verify_image(path, size: int = 256) -> None:
    """Decode ``path`` fully or raise (``verify()`` alone passes truncated JPEGs); JPEGs decode in draft mode,
    scaled down by the codec towards ``size``, so the check stays cheap for large photos."""
    with Image.open(path) as img:
        img.draft("RGB", (size, size))
        img.load()


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1] (StarGAN v2's Normalize(0.5, 0.5))."""
    return images.float().div(127.5).sub(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255], clamped."""
    return images.detach().float().add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)


def random_resized_crop_box(height: int, width: int, g: torch.Generator,
                            scale=(0.8, 1.0), ratio=(0.9, 1.1)) -> tuple[int, int, int, int]:
    """torchvision's RandomResizedCrop box sampling, drawn from ``g`` (top, left, h, w)."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        u = torch.rand(4, generator=g).tolist()
        target_area = area * (scale[0] + u[0] * (scale[1] - scale[0]))
        aspect = math.exp(log_ratio[0] + u[1] * (log_ratio[1] - log_ratio[0]))
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(u[2] * (height - h + 1))
            left = int(u[3] * (width - w + 1))
            return top, left, h, w
    return 0, 0, height, width


def augment(image: torch.Tensor, g: torch.Generator, randcrop_prob: float = 0.5, hflip: bool = True) -> torch.Tensor:
    """StarGAN v2 training augmentation of one uint8 (3, S, S) image; returns float [-1, 1].

    With probability ``randcrop_prob`` a random resized crop (scale 0.8-1.0, ratio 0.9-1.1) resized
    back to S, then (with ``hflip``) a horizontal flip with probability 0.5. The crop is taken from the image
    already resized to S (StarGAN v2 crops the original file first), so decoded images can be cached. The random
    draws do not depend on ``hflip``.
    """
    size = image.shape[-1]
    x = to_float(image)
    u = torch.rand(2, generator=g).tolist()
    if u[0] < randcrop_prob:
        top, left, h, w = random_resized_crop_box(size, size, g)
        x = x[:, top:top + h, left:left + w]
        x = F.interpolate(x[None], size=(size, size), mode="bilinear", align_corners=False, antialias=True)[0]
    if hflip and u[1] < 0.5:
        x = x.flip(-1)
    return x


_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def colour_jitter(x: torch.Tensor, brightness: float, contrast: float, saturation: float, hue: float) -> torch.Tensor:
    """Colour jitter of one float [-1, 1] image (3, H, W) with given factors (1 = unchanged) and a hue shift of
    ``hue`` turns, clamped back to [-1, 1].

    The hue shift rotates the chroma plane (I, Q) of YIQ and keeps luma (Y). It is not the geometric rotation about
    the grey axis of :func:`i2i.colour.rotate_hue`: because I and Q are scaled differently, the shift it makes in
    hue angle depends on the colour (0.2-0.45 rad for 0.05 turns on the quick start's data). Replacing it with the
    uniform rotation (a refactor after f0da58e) merged two of the three domains in TUNIT's clusters (cluster accuracy
    0.667 instead of 1.0 on seeds 777 and 778, bit for bit the only difference between the two trainers), so TUNIT's
    augmented views keep this one; ``tests/test_tunit.py`` trains the quick start and checks its clusters.
    """
    rgb = (x + 1) / 2 * brightness
    grey = (rgb * _YIQ[0, :, None, None]).sum(0, keepdim=True)
    rgb = (rgb - grey.mean()) * contrast + grey.mean()
    grey = (rgb * _YIQ[0, :, None, None]).sum(0, keepdim=True)
    rgb = (rgb - grey) * saturation + grey
    if hue:
        yiq = torch.einsum("ij,jhw->ihw", _YIQ, rgb)
        c, s = math.cos(2 * math.pi * hue), math.sin(2 * math.pi * hue)
        i, q = yiq[1] * c - yiq[2] * s, yiq[1] * s + yiq[2] * c
        rgb = torch.einsum("ij,jhw->ihw", torch.linalg.inv(_YIQ), torch.stack([yiq[0], i, q]))
    return (rgb.clamp(0, 1) * 2 - 1)


def augmented_view(image: torch.Tensor, g: torch.Generator, crop_scale: float = 0.8, jitter: float = 0.4,
                   hue: float = 0.125, hflip: bool = True) -> torch.Tensor:
    """TUNIT's second view of one uint8 (3, S, S) image for IIC and MoCo: a random resized crop (scale
    ``crop_scale``-1), a flip with probability 0.5 (with ``hflip``) and colour jitter; returns float [-1, 1]."""
    size = image.shape[-1]
    x = to_float(image)
    top, left, h, w = random_resized_crop_box(size, size, g, scale=(crop_scale, 1.0))
    x = F.interpolate(x[None, :, top:top + h, left:left + w], size=(size, size), mode="bilinear",
                      align_corners=False, antialias=True)[0]
    u = torch.rand(5, generator=g).tolist()
    if hflip and u[0] < 0.5:
        x = x.flip(-1)
    b, c, s = (1 - jitter + 2 * jitter * v for v in u[1:4])
    return colour_jitter(x, b, c, s, hue * (2 * u[4] - 1))
