"""Veil's file transfer core: encryption, chunking, descriptions, resumable transfers.

Where it sits. The layers run ``crypto/wire -> ratchet, mls -> relay -> routing ->
agent -> chat``. ``files`` sits beside ``ratchet`` and ``mls``: it imports only
``veil.crypto``, ``veil.wire`` and ``veil.errors``, never anything above. That lets
both of its users import it: the relay (its chunk store,
``veil.relay.server.file_store``, and the file commands) needs the chunk sizes and errors,
and the agent drives uploads and downloads through the relay client. Nothing here
does I/O: the modules are sans-I/O state machines and codecs with the randomness
passed in, except :mod:`veil.files.images`, which calls Pillow on bytes in memory.

Modules, in the order a file goes through them:

- :mod:`~veil.files.images` removes metadata from photos and makes a preview;
- :mod:`~veil.files.layout` chooses the size class, the chunk size and the relays;
- :mod:`~veil.files.stream` encrypts the file in STREAM segments (bounded memory);
- :mod:`~veil.files.upload` registers and uploads chunks, resumably, with failover;
- :mod:`~veil.files.description` encodes what the recipient needs (and redirects);
- :mod:`~veil.files.download` verifies, decrypts and resumes on the recipient;
- :mod:`~veil.files.commands` and :mod:`~veil.files.pieces` are the file relay
  commands' codec and how a chunk travels in pieces over 16 KiB blocks.

The protocol is specified in ``docs/protocol/files.md``.
"""

from veil.files.commands import (
    FileCommand,
    FileResponse,
    decode_file_command,
    decode_file_response,
    encode_file_command,
    encode_file_response,
)
from veil.files.description import (
    MAX_INLINE_DESCRIPTION,
    ChunkLocation,
    EncryptedBlob,
    FileDescription,
    RedirectDescription,
    decode_description,
    encode_description,
    fits_inline,
    follow_redirect,
    redirect_to,
)
from veil.files.download import (
    ChunkFetch,
    ChunkPlaintext,
    Download,
    DownloadRecord,
    decode_download_record,
    encode_download_record,
)
from veil.files.layout import CHUNK_SIZES, ChunkLayout, place_chunks, plan_layout
from veil.files.pieces import ChunkAssembler, PieceReceiver, download_key, split_into_pieces
from veil.files.stream import FileSecret, SegmentCipher, encrypt_stream
from veil.files.upload import ChunkDigests, PutChunk, RegisterChunk, Upload, UploadRecord
from veil.files.upload_record import decode_upload_record, encode_upload_record

__all__ = [
    "CHUNK_SIZES",
    "MAX_INLINE_DESCRIPTION",
    "ChunkAssembler",
    "ChunkDigests",
    "ChunkFetch",
    "ChunkLayout",
    "ChunkLocation",
    "ChunkPlaintext",
    "Download",
    "DownloadRecord",
    "EncryptedBlob",
    "FileCommand",
    "FileDescription",
    "FileResponse",
    "FileSecret",
    "PieceReceiver",
    "PutChunk",
    "RedirectDescription",
    "RegisterChunk",
    "SegmentCipher",
    "Upload",
    "UploadRecord",
    "decode_description",
    "decode_download_record",
    "decode_file_command",
    "decode_file_response",
    "decode_upload_record",
    "download_key",
    "encode_description",
    "encode_download_record",
    "encode_file_command",
    "encode_file_response",
    "encode_upload_record",
    "encrypt_stream",
    "fits_inline",
    "follow_redirect",
    "place_chunks",
    "plan_layout",
    "redirect_to",
    "split_into_pieces",
]
