"""Photo bytes in, a cleaned image and its thumbnail out: Pillow only, no Django.

The type comes from the content (Pillow's own format detection, limited to the formats we
store), never from the file's name or the browser's content type. The pixel count is checked
from the header before anything is decoded, so a small file that unpacks into gigabytes (a
decompression bomb) is refused without being unpacked. The stored image is re-encoded from the
pixels alone: EXIF (GPS position, camera serial, time), XMP and text chunks are dropped, and the
EXIF orientation is applied to the pixels first, so the photo still stands the right way up.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED = ("JPEG", "PNG", "WEBP")  # what Pillow here opens and every browser shows
THUMB_FORMAT = "JPEG"
JPEG_QUALITY = 88


class PhotoRefused(ValueError):
    """The bytes are not a photo we store; the message says why, for the person uploading."""


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    format: str  # one of ACCEPTED
    width: int
    height: int
    thumb: bytes  # JPEG, long side at most the thumbnail size
    thumb_width: int
    thumb_height: int


def image_clean(data: bytes, *, max_pixels: int, thumb_px: int) -> CleanImage:
    """The photo re-encoded without metadata, upright, with its thumbnail; PhotoRefused otherwise."""
    with _opened(data, max_pixels=max_pixels) as image:
        kind = str(image.format)
        upright = _upright(image)
    clean = _encode(upright, kind)
    thumb = _thumbnail(upright, thumb_px)
    return CleanImage(data=clean, format=kind, width=upright.width, height=upright.height,
                      thumb=_encode(thumb, THUMB_FORMAT), thumb_width=thumb.width, thumb_height=thumb.height)


def _opened(data: bytes, *, max_pixels: int) -> Image.Image:
    try:
        # Pillow warns (then errors) past its own bomb limit; ours is stricter, checked below.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED)
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError, OSError,
            SyntaxError) as exc:
        raise PhotoRefused(_unreadable(exc, max_pixels)) from exc
    if image.width * image.height > max_pixels:
        image.close()
        raise PhotoRefused(f"The image is {image.width} × {image.height} pixels, more than the "
                           f"{max_pixels / 1e6:g} megapixels accepted: take it at a lower resolution.")
    return image


def _unreadable(exc: Exception, max_pixels: int) -> str:
    if isinstance(exc, (Image.DecompressionBombWarning, Image.DecompressionBombError)):
        return (f"The image has more pixels than the {max_pixels / 1e6:g} megapixels accepted: take it at a "
                "lower resolution.")
    return "This file is not a JPEG, PNG or WebP image (its content was checked, not its name)."


def _upright(image: Image.Image) -> Image.Image:
    """The pixels turned as the EXIF orientation says, decoded in full (a truncated file fails here)."""
    try:
        image.load()
        turned = ImageOps.exif_transpose(image)
        if turned.mode not in ("RGB", "RGBA", "L", "LA"):  # palette, 1-bit, 16-bit, CMYK: to RGB(A)
            turned = turned.convert("RGBA" if "A" in turned.getbands() or "transparency" in turned.info else "RGB")
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoRefused("The image is damaged or cut off and cannot be read.") from exc
    # A fresh image from the pixels alone: nothing of the original's metadata rides along.
    bare = Image.new(turned.mode, turned.size)
    bare.paste(turned)
    return bare


def _encode(image: Image.Image, kind: str) -> bytes:
    out = io.BytesIO()
    if kind == "JPEG":
        flat = image.convert("RGB") if image.mode not in ("RGB", "L") else image
        flat.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    elif kind == "WEBP":
        image.save(out, "WEBP", quality=JPEG_QUALITY)
    else:
        image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _thumbnail(image: Image.Image, thumb_px: int) -> Image.Image:
    thumb = image.copy()
    thumb.thumbnail((thumb_px, thumb_px), Image.Resampling.LANCZOS)
    if thumb.mode in ("RGBA", "LA"):  # a JPEG thumbnail: transparency onto white
        backdrop = Image.new("RGB", thumb.size, "white")
        backdrop.paste(thumb, mask=thumb.getchannel("A"))
        return backdrop
    return thumb
