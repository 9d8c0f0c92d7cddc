"""What several subcommands share: bounded number types, exit status 1 on usage errors, shared option groups."""
from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path

from i2i.config import MAX_SEED  # noqa: F401 (used by the subcommands)


def bounded(kind: type, low: float, high: float):
    """An argparse type: ``kind`` (int or float) in ``[low, high]``, with a message naming the accepted range."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expects {'a whole number' if kind is int else 'a number'}, got {text!r}") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}, got {text}")
        return value
    return parse


class Parser(argparse.ArgumentParser):
    """argparse with exit status 1 for usage errors, like every other error of the CLI."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def add_checkpoint(p: argparse.ArgumentParser) -> None:
    """``--checkpoint`` and ``--device``: every subcommand that loads a trained model."""
    p.add_argument("--checkpoint", required=True, help="run directory, checkpoint folder or nets_ema.safetensors")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")


def add_backend(p: argparse.ArgumentParser, default: str = "eager") -> None:
    """``--backend``: where the generator's decodes run (subcommands that translate for a user)."""
    from i2i.backends import BACKENDS

    p.add_argument("--backend", choices=BACKENDS, default=default,
                   help="eager: PyTorch; onnxruntime: ONNX Runtime on the CPU (1.2-1.3x faster per decode, within "
                        f"1e-4, after a one-off export of about 3 s); auto: onnxruntime where it applies "
                        f"(default: {default})")


def add_metric_weights(p: argparse.ArgumentParser, what: str = "pretrained metric weights") -> None:
    """``--weights-dir`` and ``--random-weights``: subcommands that run metric networks."""
    p.add_argument("--weights-dir", help=f"folder holding {what}")
    p.add_argument("--random-weights", action="store_true",
                   help="random metric networks: every number is labelled random-weights")


def add_overrides(p: argparse.ArgumentParser, what: str = "override a config value") -> None:
    """Repeatable ``--set key=value`` config overrides."""
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help=f"{what}, e.g. --set train.total_iters=500 (repeatable)")


def add_overwrite(p: argparse.ArgumentParser) -> None:
    p.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")


def check_outputs(paths: list[Path], overwrite: bool) -> None:
    """Refuse to write over existing files (FileExistsError naming the first) unless ``overwrite``; refuse two outputs
    of one command with the same name in any case."""
    seen = set()
    for path in map(Path, paths):
        if path in seen:
            raise FileExistsError(f"two outputs would be written to {path}")
        seen.add(path)
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists: pass --overwrite to replace it, or choose another --out")


def output_names(files: list[Path], suffix: str) -> list[str]:
    """One output name per input: ``<stem><suffix>``, or ``<stem>_<ext><suffix>`` for inputs whose stem another
    input shares (``a.png`` and ``a.jpg``), so outputs never collide."""
    stems = [f.stem for f in files]
    return [f"{f.stem}_{f.suffix.lstrip('.').lower()}{suffix}" if stems.count(f.stem) > 1 else f"{f.stem}{suffix}"
            for f in files]


def add_progress(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def comma_list(text: str | None) -> tuple[str, ...] | None:
    """``"a, b,c"`` -> ``("a", "b", "c")``; None for an empty or missing value."""
    return tuple(t.strip() for t in text.split(",") if t.strip()) if text else None


def parse_style(text: str, center_crop: bool = True):
    """``DOMAIN``, ``DOMAIN:SEED`` or ``DOMAIN=REFERENCE_IMAGE`` -> StyleSpec (seed 0 by default)."""
    from i2i.inference import StyleSpec

    if "=" in text:
        domain, reference = text.split("=", 1)
        if not Path(reference).is_file():
            raise FileNotFoundError(f"reference image {reference} does not exist")
        return StyleSpec(domain, reference=reference, center_crop=center_crop)
    domain, _, seed = text.partition(":")
    if seed and not (seed.isascii() and seed.isdigit() and len(seed) <= len(str(MAX_SEED))):
        raise ValueError(f"bad style {text[:60]!r}: expected DOMAIN, DOMAIN:SEED (SEED from 0 to {MAX_SEED}) or "
                         "DOMAIN=REFERENCE_IMAGE")
    return StyleSpec(domain, seed=int(seed or 0), center_crop=center_crop)


def add_align_faces(p: argparse.ArgumentParser) -> None:
    p.add_argument("--align-faces", action="store_true",
                   help="detect the largest face (MTCNN) and warp it to the CelebA-HQ framing first (face models)")


def load_inputs(files: list, align_faces: bool, size: int) -> list:
    """The inputs as given (paths), or each one's largest face aligned to the CelebA-HQ framing (PIL images)."""
    if not align_faces:
        return files
    from PIL import Image

    from i2i.faces import align_face

    aligned = []
    for f in files:
        with Image.open(f) as img:
            aligned.append(align_face(img, max(size, 256)))
    return aligned


def input_images(path: str) -> list[Path]:
    """One image, or every readable image of a folder (an unreadable one is a logged skip)."""
    from i2i.data.images import IMG_EXTENSIONS, verify_image

    p = Path(path)
    if not p.is_dir():
        if not p.is_file():
            raise FileNotFoundError(f"no input image at {path}")
        return [p]
    files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMG_EXTENSIONS)
    readable = []
    for f in files:
        try:
            verify_image(f)
            readable.append(f)
        except Exception as err:  # PIL raises many types for bad files
            logging.getLogger("i2i").warning("skipping unreadable image %s (%s: %s)", f, type(err).__name__, err)
    if not readable:
        raise FileNotFoundError(f"no readable image in {path} ({len(files)} file(s) with an image extension)")
    return readable
