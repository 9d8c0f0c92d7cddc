"""Writing frames: a PNG strip or grid, a looping GIF, or an H.264 MP4 that browsers play."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.utils import make_grid

FORMATS = (".png", ".gif", ".mp4")


def save_png(image: torch.Tensor, path: str | Path) -> None:
    """Write one uint8 (3, H, W) tensor as a PNG."""
    Image.fromarray(image.permute(1, 2, 0).cpu().numpy()).save(path)


def translation_cells(sources: torch.Tensor, outputs: torch.Tensor, header: torch.Tensor | None = None
                      ) -> torch.Tensor:
    """The cells of StarGAN v2's figures, row-major with ``m + 1`` columns: per source (n, 3, H, W) the source
    then its m translations (n, m, 3, H, W); with ``header`` (m, 3, H, W), e.g. the references, a first row of a
    blank (white) corner and the header images. Any dtype; float inputs are in [-1, 1]."""
    rows = torch.cat([sources[:, None].to(outputs), outputs], 1)
    if header is not None:
        white = torch.full_like(header[:1], 255 if header.dtype == torch.uint8 else 1)
        rows = torch.cat([torch.cat([white, header.to(outputs)])[None], rows])
    return rows.flatten(0, 1)


def grid_image(frames: torch.Tensor, ncol: int | None = None, padding: int = 2) -> np.ndarray:
    """uint8 frames (F, 3, H, W) -> one HxWx3 uint8 array, ``ncol`` frames per row (all in one row by default)."""
    grid = make_grid(frames, nrow=ncol or frames.size(0), padding=padding, pad_value=255)
    return grid.permute(1, 2, 0).cpu().numpy()


def upscale_frames(frames: torch.Tensor, factor: int) -> torch.Tensor:
    """Enlarge uint8 frames (..., H, W) by an integer factor, nearest neighbour (keeps small outputs crisp)."""
    return frames.repeat_interleave(factor, -1).repeat_interleave(factor, -2) if factor > 1 else frames


def _even(frames: np.ndarray) -> np.ndarray:
    """Pad H and W to even sizes (yuv420p H.264 needs them)."""
    h, w = frames.shape[1:3]
    return np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def save_gif(frames: torch.Tensor, path: Path, fps: float, upscale: int) -> None:
    """A looping GIF bouncing back and forth: one palette for all frames (median cut once, on the frames at their
    own size), each frame mapped to it without dithering, then enlarged nearest-neighbour in palette mode; far
    cheaper than quantising every enlarged frame anew."""
    array = frames.permute(0, 2, 3, 1).cpu().numpy()
    palette = Image.fromarray(np.concatenate(list(array), axis=1)).quantize(256)
    small = [Image.fromarray(a).quantize(palette=palette, dither=Image.Dither.NONE) for a in array]
    h, w = array.shape[1:3]
    images = [im.resize((w * upscale, h * upscale), Image.NEAREST) for im in small] if upscale > 1 else small
    sequence = images + images[-2:0:-1] if len(images) > 2 else images
    sequence[0].save(path, save_all=True, append_images=sequence[1:], duration=round(1000 / fps), loop=0)


def save_frames(frames: torch.Tensor, path: str | Path, fps: float = 10.0, upscale: int = 1,
                ncol: int | None = None) -> Path:
    """Write uint8 frames (F, 3, H, W) as a strip (``.png``; ``ncol`` frames per row, all in one row by default),
    a looping GIF (``.gif``, bouncing back and forth) or an H.264/yuv420p MP4 (``.mp4``); ``upscale`` enlarges
    small frames (nearest neighbour)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"unsupported output {path.name}: use one of {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".gif":
        save_gif(frames, path, fps, upscale)
        return path
    frames = upscale_frames(frames, upscale)
    if suffix == ".png":
        Image.fromarray(grid_image(frames, ncol)).save(path)
        return path
    array = frames.permute(0, 2, 3, 1).cpu().numpy()
    import imageio.v2 as imageio

    with imageio.get_writer(path, fps=fps, codec="libx264", pixelformat="yuv420p", macro_block_size=1,
                            ffmpeg_log_level="error") as writer:
        for frame in _even(array):
            writer.append_data(frame)
    return path
