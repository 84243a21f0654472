"""What ``veil send-file`` uploads: images cleaned (found by content), other files as is."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from veil.agent.file_staging import TransferFolder
from veil.chat.file_prepare import prepare

GPS_IFD = 0x8825


def gps_jpeg() -> bytes:
    exif = Image.Exif()
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = "N", (52.0, 31.0, 12.0)
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 10)).save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


def test_a_photo_without_its_extension_is_still_cleaned(tmp_path: Path) -> None:
    source = tmp_path / "holiday"
    source.write_bytes(gps_jpeg())
    prepared = prepare(source, TransferFolder(tmp_path / "t"), keep_metadata=False)
    assert (prepared.name, prepared.mime_type) == ("holiday.jpg", "image/jpeg")
    assert prepared.path != source and prepared.preview
    with Image.open(prepared.path) as cleaned:
        assert not cleaned.getexif().get_ifd(GPS_IFD) and "exif" not in cleaned.info


def test_keep_metadata_sends_the_original_with_a_preview(tmp_path: Path) -> None:
    source = tmp_path / "raw.jpg"
    source.write_bytes(gps_jpeg())
    prepared = prepare(source, TransferFolder(tmp_path / "t"), keep_metadata=True)
    assert prepared.path == source and prepared.preview


def test_other_files_and_broken_images_go_as_they_are(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff" + bytes(100))
    folder = TransferFolder(tmp_path / "t")
    assert prepare(notes, folder, keep_metadata=False).mime_type == "text/plain"
    kept = prepare(broken, folder, keep_metadata=False)
    assert (kept.path, kept.mime_type, kept.preview) == (broken, "image/jpeg", b"")
