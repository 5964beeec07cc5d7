"""maintenance/photo_images.py on real images of every mode Pillow writes in the accepted formats:
each comes out readable, in an accepted mode, with its thumbnail; what is not one is refused."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from maintenance.photo_images import PhotoRefused, image_clean


def _saved(mode: str, kind: str, size: tuple[int, int] = (500, 400)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, kind)
    return out.getvalue()


@pytest.mark.parametrize(("mode", "kind"), [("1", "PNG"), ("P", "PNG"), ("LA", "PNG"), ("I;16", "PNG"),
                                            ("RGBA", "PNG"), ("CMYK", "JPEG"), ("L", "JPEG"), ("RGB", "JPEG"),
                                            ("RGB", "WEBP"), ("RGBA", "WEBP")])
def test_every_mode_comes_out_clean_with_a_jpeg_thumbnail(mode: str, kind: str) -> None:
    clean = image_clean(_saved(mode, kind), max_pixels=10**6, thumb_px=100)
    assert (clean.format, clean.width, clean.height) == (kind, 500, 400)
    stored, thumb = Image.open(io.BytesIO(clean.data)), Image.open(io.BytesIO(clean.thumb))
    assert stored.format == kind and stored.mode in ("RGB", "RGBA", "L", "LA")
    assert (thumb.format, thumb.size, (clean.thumb_width, clean.thumb_height)) == ("JPEG", (100, 80), (100, 80))


def test_other_formats_and_damaged_files_are_refused() -> None:
    with pytest.raises(PhotoRefused, match="not a JPEG, PNG or WebP"):
        image_clean(_saved("RGB", "GIF"), max_pixels=10**6, thumb_px=100)
    noise = io.BytesIO()
    Image.effect_noise((500, 400), 50).save(noise, "JPEG")
    with pytest.raises(PhotoRefused, match="damaged or cut off"):  # the header reads, the pixels end early
        image_clean(noise.getvalue()[:len(noise.getvalue()) // 2], max_pixels=10**6, thumb_px=100)
    with pytest.raises(PhotoRefused, match="500 × 400 pixels, more than the 0.1 megapixels"):
        image_clean(_saved("RGB", "PNG"), max_pixels=100_000, thumb_px=100)
