"""Reading user uploads safely: any decodable image, any mode, bounded in size; clear errors for the rest."""
from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from i2i.data.images import to_rgb

MAX_UPLOAD_PIXELS = 40_000_000  # larger uploads are refused (a 40 MP photo decodes to ~120 MB of RGB)
MAX_UPLOAD_SIDE = 1024          # larger ones are downscaled before anything else touches them
MAX_UPLOAD_BYTES = "20mb"       # enforced by Gradio's upload route


def unreadable_message(what: str, err: BaseException) -> str:
    """What to tell the sender of a file that does not decode as an image."""
    return (f"the {what} could not be read as an image ({type(err).__name__}); "
            "upload a PNG, JPEG, WebP, BMP or TIFF file")


class UploadError(ValueError):
    """An upload that cannot be used, with a message meant for the person who sent it."""


def read_upload(path: str | Path | None, what: str = "image") -> Image.Image:
    """Decode an uploaded file into an RGB PIL image no larger than ``MAX_UPLOAD_SIDE`` on its long side.

    Greyscale, palette, RGBA, CMYK and 16-bit images are converted to RGB (alpha dropped); EXIF rotation is
    applied. Non-images, truncated files and images above ``MAX_UPLOAD_PIXELS`` raise :class:`UploadError`.
    """
    if path is None:
        raise UploadError(f"no {what}: upload one (or pick an example)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.width * img.height > MAX_UPLOAD_PIXELS:
                    raise UploadError(f"the {what} is {img.width}x{img.height} pixels; the limit is "
                                      f"{MAX_UPLOAD_PIXELS / 1e6:.0f} megapixels")
                img.draft("RGB", (MAX_UPLOAD_SIDE, MAX_UPLOAD_SIDE))  # JPEG: decode at a reduced scale
                img.load()
                rgb = to_rgb(img)
    except UploadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise UploadError(f"the {what} is too large to decode safely ({err})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise UploadError(unreadable_message(what, err)) from None
    if max(rgb.size) > MAX_UPLOAD_SIDE:
        rgb.thumbnail((MAX_UPLOAD_SIDE, MAX_UPLOAD_SIDE), Image.BICUBIC)
    return rgb
