"""Known-answer vectors for the agent's version 2 and 3 constructions and the backup
file (tests/vectors/agent/agent_v2.json and agent_v3.json, made by
tests/vectors/agent/generate.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from veil.agent.frames import (
    FRAME_SIZE,
    FRAME_VERSION,
    INNER_FRAME_SIZE,
    Frame,
    FrameKind,
    open_sealed,
    seal,
)
from veil.agent.queue_frames import (
    QUEUE_FRAME_AD,
    frame_secret,
    open_queue_frame,
    queue_key,
    seal_queue_frame,
)
from veil.agent.repair import RepairAuth
from veil.agent.short_links import BLOB_AD, ShortLink, open_blob, seal_blob
from veil.chat.backup import open_backup, seal_backup
from veil.chat.store import KdfParams
from veil.crypto import DeterministicRandom, MlKem768KeyPair, X25519KeyPair, pad
from veil.ratchet.repair_keys import RepairKey

Vectors = Callable[[str], Any]


def test_repair_frame_v2_vector(vectors: Vectors) -> None:
    case = vectors("agent/agent_v2.json")["repair_frame_v2"]
    key = RepairKey(bytes.fromhex(case["key_id"]), bytes.fromhex(case["key"]), shared=True)
    auth = RepairAuth(b"\x00" * 32, case["is_joiner"], pq=True, sent=case["sent"])
    rng = DeterministicRandom(bytes.fromhex(case["rng_seed"]))
    _, body = auth.seal(FrameKind(case["kind"]), bytes.fromhex(case["payload"]), rng, key)
    assert hashlib.sha256(body).hexdigest() == case["body_sha256"]
    assert body.startswith(key.key_id + (case["sent"] + 1).to_bytes(8, "big"))
    peer = RepairAuth(b"\x00" * 32, not case["is_joiner"], pq=True)
    _, payload, key_id = peer.open(FrameKind(case["kind"]), body, {key.key_id: key.key}.get)
    assert (payload.hex(), key_id) == (case["payload"], key.key_id)


def test_hybrid_seal_vector(vectors: Vectors) -> None:
    case = vectors("agent/agent_v2.json")["hybrid_seal"]
    recipient = X25519KeyPair(bytes.fromhex(case["recipient_private"]))
    kem = MlKem768KeyPair(bytes.fromhex(case["kem_seed"]))
    shared, ciphertext = (
        bytes.fromhex(case["kem_shared_secret"]),
        bytes.fromhex(case["kem_ciphertext"]),
    )
    assert kem.decapsulate(ciphertext) == shared  # the recorded encapsulation is genuine
    sealed = seal(
        recipient.public,
        bytes.fromhex(case["payload"]),
        DeterministicRandom(bytes.fromhex(case["rng_seed"])),
        kem_public=kem.public,
        encapsulate=lambda _: (shared, ciphertext),
    )
    assert hashlib.sha256(sealed).hexdigest() == case["sealed_sha256"]
    assert open_sealed(recipient, sealed, kem).hex() == case["payload"]


def test_backup_file_vector(vectors: Vectors) -> None:
    case = vectors("agent/agent_v2.json")["backup_file"]
    data = seal_backup(
        bytes.fromhex(case["payload"]),
        case["passphrase"],
        salt=bytes.fromhex(case["salt"]),
        nonce=bytes.fromhex(case["nonce"]),
        kdf=KdfParams(*case["kdf"]),
        created_at_ms=case["created_at_ms"],
    )
    assert data.hex() == case["file"]
    assert open_backup(data, case["passphrase"]) == (
        case["created_at_ms"],
        bytes.fromhex(case["payload"]),
    )


def test_queue_frame_v3_vector(vectors: Vectors) -> None:
    case = vectors("agent/agent_v3.json")["queue_frame_v3"]
    secret = frame_secret(
        bytes.fromhex(case["link_key"]), bytes.fromhex(case["ratchet_invitation"])
    )
    key = queue_key(secret, bytes.fromhex(case["sender_id"]))
    assert (secret.hex(), key.hex()) == (case["frame_secret"], case["queue_key"])
    rng = DeterministicRandom(bytes.fromhex(case["rng_seed"]))
    kind, body = FrameKind(case["kind"]), bytes.fromhex(case["body"])
    frame = seal_queue_frame(key, kind, body, rng)
    assert len(frame) == FRAME_SIZE and frame[:12].hex() == case["nonce"]
    assert hashlib.sha256(frame).hexdigest() == case["frame_sha256"]
    # The construction as agent.md states it, with the primitive called directly.
    inner = AESGCM(key).decrypt(frame[:12], frame[12:], QUEUE_FRAME_AD)
    assert inner == pad(bytes((FRAME_VERSION, kind)) + body, INNER_FRAME_SIZE)
    assert open_queue_frame(key, frame) == Frame(kind, body)


def test_short_link_vector(vectors: Vectors) -> None:
    case = vectors("agent/agent_v3.json")["short_link"]
    link = ShortLink(
        case["relay"],
        bytes.fromhex(case["recipient_id"]),
        bytes.fromhex(case["auth_key"]),
        bytes.fromhex(case["delivery_key"]),
    )
    assert link.encode() == case["text"] and ShortLink.decode(case["text"]) == link
    assert link.blob_key.hex() == case["blob_key"]
    rng = DeterministicRandom(bytes.fromhex(case["rng_seed"]))
    blob = seal_blob(link, case["invitation"], case["expires_at"], rng)
    assert (blob[:12].hex(), hashlib.sha256(blob).hexdigest()) == (
        case["nonce"],
        case["blob_sha256"],
    )
    content = AESGCM(link.blob_key).decrypt(blob[:12], blob[12:], BLOB_AD)
    expected = case["expires_at"].to_bytes(8, "big") + case["invitation"].encode()
    assert content == pad(expected, INNER_FRAME_SIZE)
    assert open_blob(link, blob, case["expires_at"]) == case["invitation"]
