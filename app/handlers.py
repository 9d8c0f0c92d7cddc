"""What the app's buttons do: interpolate, scrub, translate; Gradio-free apart from the errors they raise."""
from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

import torch

from i2i.evaluation.perceptual import LPIPSDistance
from i2i.evaluation.ps import perceptual_smoothness, sequence_distances
from i2i.config import MAX_SEED
from i2i.data.images import to_float, to_uint8
from i2i.inference import INTERPOLATIONS, StyleSpec, Translator, check_steps, prepare_image
from i2i.media import grid_image, save_frames, save_png, translation_cells, upscale_frames
from i2i.pretrained import RANDOM_WEIGHTS

from i2i.app.uploads import UploadError, read_upload

MAX_APP_STEPS = 100
MAX_GRID_SEEDS = 8
KEEP_RESULTS = 64  # request folders kept under out_dir; older ones are deleted
STYLE_SOURCES = ("seed", "reference")


def parse_seeds(text: str | int | float | None, limit: int = MAX_GRID_SEEDS) -> list[int]:
    """``"0, 3, 7"`` or ``"0-3"`` -> [0, 3, 7] / [0, 1, 2, 3]; at most ``limit`` seeds, each in [0, 2**31 - 1].

    Counts are checked before any list is built, so ``0-100000000`` is refused at once.
    """
    parts = [p.strip() for p in str(0 if text is None or text == "" else text).split(",") if p.strip()]
    spans: list[tuple[int, int]] = []
    for part in parts:
        span = re.fullmatch(r"(\d{1,12})\s*-\s*(\d{1,12})", part) or re.fullmatch(r"(\d{1,12})", part)
        if span is None:
            raise ValueError(f"bad seeds {str(text)[:40]!r}: use whole numbers like '0, 1, 2' or a range like '0-3'")
        lo, hi = int(span[1]), int(span[span.lastindex])
        if hi > MAX_SEED:
            raise ValueError(f"seeds must be at most {MAX_SEED}, got {hi}")
        if hi < lo:
            raise ValueError(f"bad seed range {part!r}: the first number must not exceed the second")
        spans.append((lo, hi))
    count = sum(hi - lo + 1 for lo, hi in spans)
    if count == 0:
        raise ValueError("give at least one seed")
    if count > limit:
        raise ValueError(f"at most {limit} seeds per grid, got {count}")
    return [seed for lo, hi in spans for seed in range(lo, hi + 1)]


class DemoHandlers:
    """The model-facing side of the app: one :class:`Translator` and one LPIPS network, loaded once.

    Parameters
    ----------
    translator : Translator
    distance : LPIPSDistance
        Scores the displayed interpolation's Perceptual Smoothness.
    lpips_weights : str
        ``"pretrained"`` or ``"random-weights"``; shown next to every PS score.
    out_dir : Path
        The only folder the app writes to (GIF, MP4 and strip of each request, example images).
    batcher : DecodeBatcher, optional
        Decodes the frames of concurrent interpolations together; without it each request decodes alone.
    """

    def __init__(self, translator: Translator, distance: LPIPSDistance, lpips_weights: str, out_dir: Path,
                 batcher=None):
        self.translator, self.distance, self.lpips_weights = translator, distance, lpips_weights
        self.batcher = batcher
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.upscale = max(1, 256 // translator.img_size)  # frames are shown enlarged to >= 256 px

    def source_image(self, path, what: str = "source image", align_faces: bool = False) -> torch.Tensor:
        """The uploaded source as the model's input; with ``align_faces`` its largest face in the CelebA-HQ
        framing first (FaceNotFoundError, a ValueError, when there is none)."""
        image = read_upload(path, what)
        if align_faces:
            from i2i.faces import align_face

            image = align_face(image, max(self.translator.img_size, 256))
        return prepare_image(image, self.translator.img_size)

    def style_spec(self, which: str, source: str, domain: str, seed, reference) -> StyleSpec:
        """The :class:`StyleSpec` of one style picker, with an error naming the picker when it is incomplete."""
        if source not in STYLE_SOURCES:
            raise ValueError(f"{which} style: choose 'seed' or 'reference', not {source!r}")
        self.translator.domain_label(domain or "")
        if source == "reference":
            if reference is None:
                raise UploadError(f"{which} style: 'reference' is selected but no reference image was uploaded")
            return StyleSpec(domain, reference=read_upload(reference, f"{which} reference image"))
        try:
            value = float(seed)
        except (TypeError, ValueError):
            value = float("nan")
        if not (0 <= value <= MAX_SEED and value == int(value)):
            raise ValueError(f"{which} style: the seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
        return StyleSpec(domain, seed=int(value))

    def new_result_folder(self) -> Path:
        """A fresh folder for one request's files; the oldest are deleted beyond ``KEEP_RESULTS``."""
        folders = sorted((p for p in self.out_dir.glob("result-*") if p.is_dir()), key=lambda p: p.stat().st_mtime)
        for old in folders[:max(0, len(folders) - KEEP_RESULTS + 1)]:
            shutil.rmtree(old, ignore_errors=True)
        folder = self.out_dir / f"result-{uuid.uuid4().hex[:12]}"
        folder.mkdir()
        return folder

    def smoothness_text(self, frames: torch.Tensor) -> str:
        """PS, alignment and uniformity of one uint8 frame sequence (F, 3, S, S), as Markdown."""
        step, end = sequence_distances(self.distance, to_float(frames)[None].to(self.translator.device))
        ps = perceptual_smoothness(step.cpu(), end.cpu())
        text = (f"**Perceptual Smoothness {ps.ps.item():.4f}** (alignment {ps.alignment.item():.4f}, "
                f"uniformity {ps.uniformity.item():.4f}; LPIPS end-to-end {end.item():.4f})")
        if self.lpips_weights == RANDOM_WEIGHTS:
            text += (f" — **[{RANDOM_WEIGHTS}]**: LPIPS runs on a random AlexNet trunk here, so this number "
                     "checks the pipeline only and is not comparable with the paper's")
        return text

    def interpolate(self, source, start_kind, start_domain, start_seed, start_reference,
                    end_kind, end_domain, end_seed, end_reference, steps, method, align_faces=False):
        """Interpolate one source between two styles (its face aligned first when ``align_faces``).

        Returns the gallery (frames with captions), the GIF, the MP4, the strip PNG, the frame slider's new
        range, the frames for scrubbing, the first frame and the Perceptual Smoothness text.
        """
        steps = check_steps(steps, MAX_APP_STEPS)
        if method not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}, got {method!r}")
        image = self.source_image(source, align_faces=bool(align_faces))
        start = self.style_spec("start", start_kind, start_domain, start_seed, start_reference)
        end = self.style_spec("end", end_kind, end_domain, end_seed, end_reference)
        styles = self.translator.interpolation_styles(start, end, steps, method)
        if self.batcher is not None:
            frames = to_uint8(self.batcher.decode(image, styles))
        else:
            frames = to_uint8(self.translator.decode_many(image[None], styles[None])[0])
        folder = self.new_result_folder()
        gif = save_frames(frames, folder / "interpolation.gif", fps=10, upscale=self.upscale)
        mp4 = save_frames(frames, folder / "interpolation.mp4", fps=10, upscale=self.upscale)
        strip = save_frames(frames, folder / "strip.png")
        # Frames go out as files of this request's own folder, not arrays: Gradio writes an array to a cache path named
        # by its content without a rename, so two requests with equal frames would rewrite a file another response is
        # still streaming (measured: truncated downloads under 10 concurrent requests)
        paths = []
        for t, f in enumerate(upscale_frames(frames, self.upscale)):
            paths.append(str(folder / f"frame_{t:03d}.png"))
            save_png(f, paths[-1])
        span = "intra" if self.translator.domain_label(start.domain) == self.translator.domain_label(end.domain) \
            else "inter"
        gallery = [(path, f"{t / (steps - 1):.2f}") for t, path in enumerate(paths)]
        text = f"{span}-domain, {steps} frames, {method}. " + self.smoothness_text(frames)
        return gallery, str(gif), str(mp4), str(strip), steps - 1, paths, paths[0], text

    @staticmethod
    def scrub(frames: list[str] | None, index) -> str | None:
        """The frame file at ``index`` of the last interpolation: no model call."""
        if not frames:
            return None
        return frames[int(min(max(int(index or 0), 0), len(frames) - 1))]

    def translate(self, source, domains, seeds, reference, align_faces=False):
        """One source against several target domains (rows) and seeds (columns), or one reference's style
        (the source's face aligned first when ``align_faces``).

        Returns the grid (H, W, 3) uint8 array, with the source in the first column, and a caption.
        """
        names = list(domains or [])
        if not names:
            raise ValueError("pick at least one target domain")
        labels = [self.translator.domain_label(name) for name in names]
        image = self.source_image(source, align_faces=bool(align_faces))
        if reference is not None:
            ref = prepare_image(read_upload(reference, "reference image"), self.translator.img_size)
            codes = self.translator.reference_styles(ref.expand(len(labels), -1, -1, -1), torch.tensor(labels))
            columns = ["reference style"]
        else:
            seed_list = parse_seeds(seeds)
            codes = torch.stack([self.translator.style(StyleSpec(name, seed=s)) for name in names for s in seed_list])
            columns = [f"seed {s}" for s in seed_list]
        out = self.translator.decode_many(image[None], codes[None])[0].view(len(names), len(columns), 3,
                                                                            *image.shape[1:])
        cells = to_uint8(translation_cells(image.expand(len(names), -1, -1, -1), out))
        caption = f"rows: {', '.join(names)}; columns: source, {', '.join(columns)}"
        return grid_image(upscale_frames(cells, self.upscale), ncol=len(columns) + 1), caption
