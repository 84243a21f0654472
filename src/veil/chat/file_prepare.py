"""What a file send uploads: the file as it is, or an image cleaned of its metadata.

Images (JPEG, PNG, WebP, HEIC) are found by their first bytes as well as by their
name, so a photo without its extension loses its GPS too (``files.md`` section 9).
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path

from veil.agent.file_staging import TransferFolder, write_atomically
from veil.files.errors import UnsupportedImage
from veil.files.images import clean_image

__all__ = ["PreparedFile", "prepare"]

_IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/heic", "image/heif")
_SUFFIXES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}")


@dataclass(frozen=True, slots=True)
class PreparedFile:
    """What is uploaded: the bytes' path, the name and type shown, and a preview."""

    path: Path
    name: str
    mime_type: str
    preview: bytes


def prepare(source: Path, folder: TransferFolder, *, keep_metadata: bool) -> PreparedFile:
    """The file to upload: an image cleaned of its metadata (with a preview), else as is."""
    name = source.name
    guessed = (mimetypes.guess_type(name)[0] or "").lower()
    mime_type = guessed if _MIME.fullmatch(guessed) else "application/octet-stream"
    with source.open("rb") as handle:
        head = handle.read(16)
    # By content, not by name: a photo without its extension must lose its GPS too.
    if mime_type not in _IMAGE_TYPES and not _looks_like_image(head):
        return PreparedFile(source, name, mime_type, b"")
    cleaned_path = folder.path / "cleaned"
    try:
        cleaned = clean_image(source.read_bytes(), keep_metadata=keep_metadata)
    except UnsupportedImage:
        return PreparedFile(source, name, mime_type, b"")
    if keep_metadata:
        return PreparedFile(source, name, mime_type, cleaned.preview)
    if not cleaned_path.exists():
        write_atomically(cleaned_path, cleaned.data)
    if cleaned.mime_type != mime_type:  # HEIC goes out as JPEG; a nameless JPEG gets .jpg
        name = Path(name).with_suffix(_SUFFIXES[cleaned.mime_type]).name
    return PreparedFile(cleaned_path, name, cleaned.mime_type, cleaned.preview)


def _looks_like_image(head: bytes) -> bool:
    """JPEG, PNG, WebP or HEIC/HEIF by their first bytes."""
    heif_brands = (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"hevc", b"hevx")
    return (
        head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"))
        or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
        or (head[4:8] == b"ftyp" and head[8:12] in heif_brands)
    )
