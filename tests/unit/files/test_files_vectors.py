"""Known answers for the file constructions, recomputed from the spec with pyca directly.

The stream segments and the store's sealed entry are rebuilt here from
docs/protocol/files.md using only ``cryptography`` and ``hashlib`` (not Veil's code),
then Veil's decoders must read the pinned version-1 records.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from veil.files.description import FileDescription, decode_description, encode_description
from veil.files.download import decode_download_record, encode_download_record
from veil.files.upload import ChunkStage
from veil.files.upload_record import decode_upload_record, encode_upload_record
from veil.relay.server.file_store_format import EntryRole, open_entry

VECTORS = json.loads(
    (Path(__file__).resolve().parents[2] / "vectors" / "files" / "files_v1.json").read_text()
)
SEGMENT_PLAINTEXT = VECTORS["segment_size"] - 16


def spec_segments(size: int, segment_count: int) -> list[bytes]:
    """files.md section 2, written out with pyca's AES-GCM."""
    key = bytes.fromhex(VECTORS["file_key"])
    prefix = bytes.fromhex(VECTORS["nonce_prefix"])
    padded = bytes(i % 251 for i in range(size)).ljust(segment_count * SEGMENT_PLAINTEXT, b"\0")
    out = []
    for index in range(segment_count):
        last = b"\x01" if index == segment_count - 1 else b"\x00"
        nonce = prefix + index.to_bytes(4, "big") + last
        plain = padded[index * SEGMENT_PLAINTEXT : (index + 1) * SEGMENT_PLAINTEXT]
        out.append(AESGCM(key).encrypt(nonce, plain, b"veil/files/v1/segment"))
    return out


@pytest.mark.parametrize("case", VECTORS["stream"], ids=lambda c: str(c["plaintext_size"]))
def test_stream_segments_match_the_spec(case: dict[str, object]) -> None:
    size, count = case["plaintext_size"], case["segment_count"]
    assert isinstance(size, int) and isinstance(count, int)
    segments = spec_segments(size, count)
    assert [hashlib.sha256(s).hexdigest() for s in segments] == case["segment_sha256"]
    assert segments[-1][-16:].hex() == case["last_segment_tag"]


def test_store_entry_matches_the_spec() -> None:
    entry = VECTORS["store_entry"]
    entity_id = bytes.fromhex(entry["entity_id"])
    lookup = hashlib.sha256(b"veil/relay/file-store/v1/lookup" + entity_id).digest()
    assert lookup.hex() == entry["lookup"]
    key = HKDF(hashes.SHA256(), 32, b"", b"veil/relay/file-store/v1/entry-key").derive(entity_id)
    sealed = bytes.fromhex(entry["sealed"])
    plain = AESGCM(key).decrypt(sealed[:12], sealed[12:], lookup + bytes([int(entry["role"])]))
    name = entry["body_name"].encode()
    digest = bytes.fromhex(entry["digest"])
    recipients = int(entry["recipients"])
    auth_key = bytes.fromhex(entry["auth_key"])
    assert plain == bytes([len(name)]) + name + auth_key + b"\x20" + digest + bytes([recipients])
    fields = open_entry(entity_id, EntryRole.SENDER, sealed)
    assert (fields.body_name, fields.digest, fields.recipients) == (
        entry["body_name"],
        digest,
        recipients,
    )


def test_download_piece_matches_the_spec() -> None:
    vector = VECTORS["download_piece"]
    relay = X25519PrivateKey.from_private_bytes(bytes.fromhex(vector["relay_private"]))
    recipient = X25519PrivateKey.from_private_bytes(bytes.fromhex(vector["recipient_private"]))
    shared = relay.exchange(recipient.public_key())
    key = HKDF(hashes.SHA256(), 32, b"", b"veil relay file download v1").derive(shared)
    assert key.hex() == vector["download_key"]
    counter = int(vector["index"]).to_bytes(4, "big")
    ad = bytes.fromhex(vector["correlation_id"]) + counter
    sealed = AESGCM(key).encrypt(counter + bytes(8), bytes.fromhex(vector["piece"]), ad)
    assert sealed.hex() == vector["sealed"]


def test_pinned_v1_records_still_decode_and_encode_identically() -> None:
    records = VECTORS["records"]
    upload = decode_upload_record(bytes.fromhex(records["upload_record_v1"]))
    assert [c.stage for c in upload.chunks][:3] == [
        ChunkStage.UPLOADED,
        ChunkStage.REGISTERED,
        ChunkStage.PENDING,
    ]
    assert encode_upload_record(upload).hex() == records["upload_record_v1"]
    download = decode_download_record(bytes.fromhex(records["download_record_v1"]))
    assert download.done == {0, 2} and download.chunk_count == 4
    assert encode_download_record(download).hex() == records["download_record_v1"]
    description = decode_description(bytes.fromhex(records["description_v1"]))
    assert isinstance(description, FileDescription) and description.name == "report.pdf"
    assert encode_description(description).hex() == records["description_v1"]
