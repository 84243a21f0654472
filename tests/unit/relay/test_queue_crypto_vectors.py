"""Known-answer vectors for relay queue crypto, checked against veil and against the spec."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from veil.crypto import X25519KeyPair
from veil.relay.protocol.queue_crypto import (
    authenticate,
    delivery_key,
    derive_auth_key,
    open_message,
    seal_message,
)


def spec_key(own_private: bytes, peer_private: bytes, info: bytes) -> bytes:
    """HKDF-SHA256(empty salt, X25519(own, peer), info), straight from relay.md."""
    peer = X25519PrivateKey.from_private_bytes(peer_private).public_key().public_bytes_raw()
    secret = X25519PrivateKey.from_private_bytes(own_private).exchange(
        X25519PublicKey.from_public_bytes(peer)
    )
    return HKDF(hashes.SHA256(), 32, salt=b"", info=info).derive(secret)


def test_authenticator_vector(vectors: Any) -> None:
    case = {k: bytes.fromhex(v) for k, v in vectors("relay/queue_crypto.json")["auth"].items()}
    queue_auth = X25519KeyPair(case["queue_auth_private"])
    relay_session = X25519KeyPair(case["relay_session_private"])
    key = derive_auth_key(queue_auth, relay_session.public)
    assert key == derive_auth_key(relay_session, queue_auth.public) == case["auth_key"]
    spec = spec_key(
        case["queue_auth_private"], case["relay_session_private"], b"veil relay command auth v1"
    )
    assert spec == case["auth_key"]
    mac = authenticate(key, case["session_id"], case["authorized"])
    expected = hmac.digest(key, case["session_id"] + case["authorized"], hashlib.sha256)
    assert mac == expected == case["authenticator"]


def test_delivery_vector(vectors: Any) -> None:
    raw = vectors("relay/queue_crypto.json")["delivery"]
    case = {k: bytes.fromhex(v) for k, v in raw.items() if isinstance(v, str)}
    recipient = X25519KeyPair(case["recipient_dh_private"])
    relay_queue = X25519KeyPair(case["relay_queue_private"])
    key = delivery_key(relay_queue, recipient.public)
    assert key == delivery_key(recipient, relay_queue.public) == case["delivery_key"]
    spec = spec_key(
        case["recipient_dh_private"], case["relay_queue_private"], b"veil relay delivery v1"
    )
    assert spec == case["delivery_key"]
    message_id = case["message_id"]
    sealed = seal_message(key, message_id, raw["timestamp"], raw["flags"], case["body"])
    frame = raw["timestamp"].to_bytes(8, "big") + bytes([raw["flags"]]) + case["body"]
    assert sealed == AESGCM(key).encrypt(message_id[:12], frame, message_id) == case["sealed"]
    opened = open_message(key, message_id, sealed)
    assert (opened.timestamp, opened.flags, opened.body) == (
        raw["timestamp"],
        raw["flags"],
        case["body"],
    )
