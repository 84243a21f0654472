"""Photos lose EXIF (GPS above all), XMP and comments; orientation and pixels survive."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from veil.files.errors import UnsupportedImage
from veil.files.images import MAX_PREVIEW_BYTES, clean_image

GPS_IFD = 0x8825
ORIENTATION = 0x0112
MAKE, MODEL, MAKER_NOTE = 0x010F, 0x0110, 0x927C
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">SECRET-XMP</x:xmpmeta>'


def exif_with_gps(orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[MAKE] = "SpyCam"
    exif[MODEL] = "Serial-12345"
    exif[ORIENTATION] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (52.0, 31.0, 12.0)
    gps[3] = "E"
    gps[4] = (13.0, 24.0, 36.0)
    exif.get_ifd(0x8769)[MAKER_NOTE] = b"MAKERNOTE-SECRET"
    return exif


def photo(fmt: str, size: tuple[int, int] = (64, 32), **save: object) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, size[0] // 2, size[1]))  # left half blue
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()


def test_jpeg_loses_gps_exif_xmp_and_comment_and_stays_upright() -> None:
    original = photo("JPEG", exif=exif_with_gps(), comment=b"COMMENT-SECRET", xmp=XMP)
    with Image.open(io.BytesIO(original)) as before:
        assert before.getexif().get_ifd(GPS_IFD)  # the fixture really carries GPS
    cleaned = clean_image(original)
    assert cleaned.mime_type == "image/jpeg"
    for secret in (b"Exif", b"SpyCam", b"Serial-12345", b"SECRET-XMP", b"COMMENT-SECRET"):
        assert secret not in cleaned.data
    with Image.open(io.BytesIO(cleaned.data)) as after:
        assert len(after.getexif()) == 0
        assert not after.getexif().get_ifd(GPS_IFD)
        assert not {"exif", "xmp", "comment", "icc_profile"} & set(after.info)
        # orientation 6 (rotate 90° clockwise) is applied to the pixels: 64x32 -> 32x64
        assert after.size == (32, 64) == (cleaned.width, cleaned.height)
        top, bottom = after.getpixel((16, 4)), after.getpixel((16, 60))
        assert isinstance(top, tuple) and isinstance(bottom, tuple)
        assert top[2] > 150 and bottom[0] > 150  # the blue half is now on top


def test_png_loses_text_chunks_and_exif_keeps_transparency() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "PNG-TEXT-SECRET")
    image = Image.new("RGBA", (20, 10), (0, 0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info, exif=exif_with_gps(1))
    cleaned = clean_image(buffer.getvalue())
    assert cleaned.mime_type == "image/png"
    assert b"PNG-TEXT-SECRET" not in cleaned.data and b"SpyCam" not in cleaned.data
    with Image.open(io.BytesIO(cleaned.data)) as after:
        assert len(after.getexif()) == 0 and after.mode == "RGBA"
        assert after.getpixel((0, 0)) == (0, 0, 0, 0)


def test_webp_loses_exif_and_xmp() -> None:
    original = photo("WEBP", exif=exif_with_gps(1), xmp=XMP)
    assert b"SpyCam" in original
    cleaned = clean_image(original)
    assert cleaned.mime_type == "image/webp"
    assert b"SpyCam" not in cleaned.data and b"SECRET-XMP" not in cleaned.data
    with Image.open(io.BytesIO(cleaned.data)) as after:
        assert len(after.getexif()) == 0 and after.size == (64, 32)


def test_heic_loses_exif_and_xmp_and_is_sent_as_jpeg() -> None:
    clean_image(photo("PNG"))  # registers the HEIF plugin, as any first use does
    original = photo("HEIF", exif=exif_with_gps(1), xmp=XMP)
    assert b"SpyCam" in original and b"SECRET-XMP" in original
    cleaned = clean_image(original)
    assert cleaned.mime_type == "image/jpeg"
    assert b"SpyCam" not in cleaned.data and b"SECRET-XMP" not in cleaned.data
    with Image.open(io.BytesIO(cleaned.data)) as after:
        assert after.format == "JPEG" and len(after.getexif()) == 0
        assert after.size == (64, 32)


def test_keep_metadata_returns_the_original_bytes() -> None:
    original = photo("JPEG", exif=exif_with_gps())
    kept = clean_image(original, keep_metadata=True)
    assert kept.data == original
    assert b"SpyCam" not in kept.preview  # the preview is pixels only, always


@pytest.mark.parametrize("size", [(8, 8), (4000, 3000), (3000, 10)])
def test_preview_is_a_small_jpeg_within_its_bound(size: tuple[int, int]) -> None:
    preview = clean_image(photo("PNG", size)).preview
    assert len(preview) <= MAX_PREVIEW_BYTES
    with Image.open(io.BytesIO(preview)) as thumbnail:
        assert thumbnail.format == "JPEG" and max(thumbnail.size) <= 160


def test_other_formats_and_garbage_are_refused() -> None:
    with pytest.raises(UnsupportedImage):
        clean_image(photo("GIF"))
    with pytest.raises(UnsupportedImage):
        clean_image(b"not an image at all")
    with pytest.raises(UnsupportedImage):
        clean_image(photo("JPEG")[:200])


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=512))
def test_any_bytes_give_a_clean_image_or_unsupported_image(data: bytes) -> None:
    try:
        cleaned = clean_image(photo("PNG", (4, 4))[:8] + data)
    except UnsupportedImage:
        return
    assert len(cleaned.preview) <= MAX_PREVIEW_BYTES
