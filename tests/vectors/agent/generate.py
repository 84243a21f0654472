"""Regenerate the agent and backup known-answer vectors:
``python tests/vectors/agent/generate.py``.

Everything is derived from ``veil.crypto.DeterministicRandom`` seeds, except the
ML-KEM-768 encapsulation of the hybrid seal, which ``cryptography`` randomises: the
generator records its ``(shared secret, ciphertext)`` and the tests replay it (and
check it by decapsulation with the recorded key seed).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from veil.agent.frames import FrameKind, seal
from veil.agent.repair import RepairAuth
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


if __name__ == "__main__":
    main()
