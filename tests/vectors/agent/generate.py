"""Regenerate the agent and backup known-answer vectors:
``python tests/vectors/agent/generate.py`` (both files) or ``... generate.py v3``
(agent_v3.json alone).

Everything is derived from ``veil.crypto.DeterministicRandom`` seeds, except the
ML-KEM-768 encapsulation of the hybrid seal, which ``cryptography`` randomises: the
generator records its ``(shared secret, ciphertext)`` and the tests replay it (and
check it by decapsulation with the recorded key seed).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from veil.agent.frames import FrameKind, seal
from veil.agent.queue_frames import frame_secret, queue_key, seal_queue_frame
from veil.agent.repair import RepairAuth
from veil.agent.short_links import ShortLink, seal_blob
from veil.chat.backup import seal_backup
from veil.chat.store import KdfParams
from veil.crypto import DeterministicRandom, MlKem768KeyPair, X25519KeyPair
from veil.crypto.primitives import mlkem768_encapsulate
from veil.ratchet.repair_keys import RepairKey

HERE = Path(__file__).parent


def repair_frame() -> dict[str, Any]:
    """A version 2 repair frame body under a ratchet repair key."""
    key = RepairKey(bytes(range(8)), bytes(range(32, 64)), shared=True)
    auth = RepairAuth(b"\x00" * 32, is_joiner=True, pq=True, sent=6)
    _, body = auth.seal(
        FrameKind.REPAIR_OFFER, b"offer payload", DeterministicRandom(b"repair"), key
    )
    return {
        "key_id": key.key_id.hex(),
        "key": key.key.hex(),
        "is_joiner": True,
        "sent": 6,
        "kind": int(FrameKind.REPAIR_OFFER),
        "payload": b"offer payload".hex(),
        "rng_seed": b"repair".hex(),
        "body_sha256": hashlib.sha256(body).hexdigest(),  # filled to a frame: long
    }


def hybrid_seal() -> dict[str, Any]:
    """A hybrid (X25519 + ML-KEM-768) sealed body."""
    recipient = X25519KeyPair(bytes(range(1, 33)))
    kem = MlKem768KeyPair(bytes(range(64)))
    shared, ciphertext = mlkem768_encapsulate(kem.public)
    sealed = seal(
        recipient.public,
        b"contact request",
        DeterministicRandom(b"seal"),
        kem_public=kem.public,
        encapsulate=lambda _: (shared, ciphertext),
    )
    return {
        "recipient_private": recipient.private.hex(),
        "kem_seed": kem.seed.hex(),
        "kem_shared_secret": shared.hex(),
        "kem_ciphertext": ciphertext.hex(),
        "payload": b"contact request".hex(),
        "rng_seed": b"seal".hex(),
        "sealed_sha256": hashlib.sha256(sealed).hexdigest(),
    }


def queue_frame() -> dict[str, Any]:
    """An agent version 3 frame sealed to its queue (veil.agent.queue_frames)."""
    link_key, invitation = bytes(range(32)), bytes(range(100, 200))
    sender_id, body = bytes(range(24)), b"a ratchet message body"
    secret = frame_secret(link_key, invitation)
    key = queue_key(secret, sender_id)
    frame = seal_queue_frame(key, FrameKind.RATCHET_MESSAGE, body, DeterministicRandom(b"queue"))
    return {
        "link_key": link_key.hex(),
        "ratchet_invitation": invitation.hex(),
        "sender_id": sender_id.hex(),
        "kind": int(FrameKind.RATCHET_MESSAGE),
        "body": body.hex(),
        "rng_seed": b"queue".hex(),
        "frame_secret": secret.hex(),
        "queue_key": key.hex(),
        "nonce": frame[:12].hex(),
        "frame_sha256": hashlib.sha256(frame).hexdigest(),
    }


def short_link() -> dict[str, Any]:
    """A short link and its invitation blob (veil.agent.short_links)."""
    link = ShortLink(
        "veil://" + "A" * 43 + "@relay.example", bytes(range(24)), bytes(range(32)), bytes(32)
    )
    invitation, expires_at = "veil://invitation#AgE", 1_800_000_000
    blob = seal_blob(link, invitation, expires_at, DeterministicRandom(b"short link"))
    return {
        "relay": link.relay,
        "recipient_id": link.recipient_id.hex(),
        "auth_key": link.auth_key.hex(),
        "delivery_key": link.delivery_key.hex(),
        "text": link.encode(),
        "invitation": invitation,
        "expires_at": expires_at,
        "rng_seed": b"short link".hex(),
        "blob_key": link.blob_key.hex(),
        "nonce": blob[:12].hex(),
        "blob_sha256": hashlib.sha256(blob).hexdigest(),
    }


def backup_file() -> dict[str, Any]:
    """A backup file around a short payload (fast Argon2id parameters)."""
    kdf = KdfParams(iterations=1, lanes=1, memory_kib=64)
    salt, nonce = bytes(range(16)), bytes(range(100, 112))
    data = seal_backup(
        b"payload", "passphrase", salt=salt, nonce=nonce, kdf=kdf, created_at_ms=1_800_000_000_000
    )
    return {
        "passphrase": "passphrase",
        "kdf": [kdf.iterations, kdf.lanes, kdf.memory_kib],
        "salt": salt.hex(),
        "nonce": nonce.hex(),
        "created_at_ms": 1_800_000_000_000,
        "payload": b"payload".hex(),
        "file": data.hex(),
    }


def main() -> None:
    document = {
        "provenance": "tests/vectors/agent/generate.py; regenerate only on a deliberate change.",
        "repair_frame_v2": repair_frame(),
        "hybrid_seal": hybrid_seal(),
        "backup_file": backup_file(),
    }
    (HERE / "agent_v2.json").write_text(json.dumps(document, indent=2) + "\n")
    write_v3()


def write_v3() -> None:
    """The agent version 3 vectors alone (the v2 file's ML-KEM encapsulation is random)."""
    document = {
        "provenance": "tests/vectors/agent/generate.py; regenerate only on a deliberate change.",
        "queue_frame_v3": queue_frame(),
        "short_link": short_link(),
    }
    (HERE / "agent_v3.json").write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    write_v3() if sys.argv[1:] == ["v3"] else main()
