"""Photos lose their metadata before they leave the device, and get a small preview.

JPEG, PNG, WebP and HEIC (read through the ``pillow-heif`` plugin, sent as JPEG) are
decoded and encoded again from their pixels alone: EXIF (with GPS and maker
notes), XMP, IPTC, ICC profiles, comments and text chunks are not carried over,
wherever in the file they were. The EXIF orientation is *applied to the pixels*
first rather than kept as a tag: the result then carries no EXIF block at all (a
kept tag would mean writing one, and it is an easy place for other fields to slip
back in), and it shows upright in every viewer, including those that ignore the tag.
The cost is one lossy re-encode for JPEG and WebP (at quality 92), and colours of a
wide-gamut photo may shift slightly without its ICC profile.

``keep_metadata=True`` returns the original bytes untouched, for when the user asks.
The preview is always made from pixels, so it never carries metadata.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from veil.files.errors import UnsupportedImage

__all__ = ["MAX_IMAGE_BYTES", "MAX_PREVIEW_BYTES", "CleanedImage", "clean_image"]

MAX_IMAGE_BYTES = 64 * 1024 * 1024
MAX_PIXELS = 50_000_000
MAX_PREVIEW_BYTES = 4096
PREVIEW_SIDES = (160, 120, 96, 64, 48)
PREVIEW_QUALITIES = (70, 50, 35)
ENCODE_QUALITY = 92
# Pillow format name -> (format written, MIME type of the result).
_OUTPUT = {
    "JPEG": ("JPEG", "image/jpeg"),
    "MPO": ("JPEG", "image/jpeg"),  # a JPEG with extra frames (phones write these)
    "PNG": ("PNG", "image/png"),
    "WEBP": ("WEBP", "image/webp"),
    "HEIF": ("JPEG", "image/jpeg"),
}


@dataclass(frozen=True, slots=True)
class CleanedImage:
    """An image ready to send: its bytes, MIME type, size in pixels, and a preview."""

    data: bytes
    mime_type: str
    width: int
    height: int
    preview: bytes


def clean_image(data: bytes, *, keep_metadata: bool = False) -> CleanedImage:
    """Strip an image's metadata (unless ``keep_metadata``) and make its preview.

    Raises :class:`UnsupportedImage` for anything that is not a still JPEG, PNG, WebP
    or HEIC image within the size limits.
    """
    if len(data) > MAX_IMAGE_BYTES:
        raise UnsupportedImage(f"images above {MAX_IMAGE_BYTES} bytes are sent as files")
    image = _open(data)
    output_format, mime_type = _OUTPUT[image.format or ""]
    upright = _upright_pixels(image)
    preview = _preview(upright)
    if keep_metadata:
        return CleanedImage(data, mime_type, upright.width, upright.height, preview)
    cleaned = _encode(upright, output_format)
    return CleanedImage(cleaned, mime_type, upright.width, upright.height, preview)


@functools.cache
def _register_heif() -> None:
    """Teach Pillow to read HEIC/HEIF, once, on first use (not at import)."""
    pillow_heif.register_heif_opener()


def _open(data: bytes) -> Image.Image:
    _register_heif()
    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise UnsupportedImage("not an image Veil can read; send it as a file") from exc
    if image.format not in _OUTPUT:
        raise UnsupportedImage(f"{image.format} images are sent as files, not photos")
    if image.width * image.height > MAX_PIXELS:
        raise UnsupportedImage(f"images above {MAX_PIXELS} pixels are sent as files")
    if getattr(image, "n_frames", 1) > 1 and image.format != "MPO":
        raise UnsupportedImage("animated images are sent as files, not photos")
    return image


def _upright_pixels(image: Image.Image) -> Image.Image:
    """Decode, apply the EXIF orientation, and keep nothing but pixels."""
    try:
        image.load()
        upright = ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError) as exc:
        raise UnsupportedImage("the image is damaged; send it as a file") from exc
    if upright.mode == "P" or "transparency" in upright.info:
        upright = upright.convert("RGBA")
    elif upright.mode not in {"RGB", "RGBA", "L", "LA"}:
        upright = upright.convert("RGB")
    pixels_only = upright.copy()
    pixels_only.info = {}
    return pixels_only


def _encode(image: Image.Image, output_format: str) -> bytes:
    if output_format == "JPEG" and image.mode not in {"RGB", "L"}:
        image = _flatten(image)
    buffer = io.BytesIO()
    options: dict[str, object] = {} if output_format == "PNG" else {"quality": ENCODE_QUALITY}
    image.save(buffer, format=output_format, **options)
    return buffer.getvalue()


def _flatten(image: Image.Image) -> Image.Image:
    """Put an image with alpha on white, for formats (JPEG) without transparency."""
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _preview(image: Image.Image) -> bytes:
    """A JPEG thumbnail of at most :data:`MAX_PREVIEW_BYTES`, the largest that fits."""
    flat = _flatten(image)
    for side in PREVIEW_SIDES:
        thumbnail = flat.copy()
        thumbnail.thumbnail((side, side))
        for quality in PREVIEW_QUALITIES:
            buffer = io.BytesIO()
            thumbnail.save(buffer, format="JPEG", quality=quality)
            if buffer.tell() <= MAX_PREVIEW_BYTES:
                return buffer.getvalue()
    raise UnsupportedImage("no preview of this image fits; send it as a file")
