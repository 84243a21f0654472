"""The ratchet's key derivation functions and every label they use.

Root KDF (Signal's KDF_RK, with the post-quantum hybrid of Veil):
``HKDF-SHA256(salt=root_key, ikm=dh_output [|| kem_secret], info=ROOT_KDF_INFO)``,
64 bytes (root key, chain key), or 96 with header encryption (plus the next
header key). Version 2 (:func:`root_step_v2`) also binds the step's public
values: ``ikm = dh_output [|| kem_secret] || transcript``, ``info =
ROOT_KDF_INFO_V2``. Chain KDF (Signal's KDF_CK): message key ``HMAC(CK, 0x01)``,
next chain key ``HMAC(CK, 0x02)``.
"""

from __future__ import annotations

from veil.crypto.primitives import hkdf_sha256, hmac_sha256

__all__ = [
    "CHAIN_KEY_CONSTANT",
    "HEADER_KEYS_INFO",
    "KEY_SIZE",
    "MESSAGE_KEY_CONSTANT",
    "ROOT_KDF_INFO",
    "ROOT_KDF_INFO_V2",
    "RootStep",
    "chain_step",
    "initial_header_keys",
    "root_step",
    "root_step_v2",
    "root_transcript",
]

KEY_SIZE = 32
ROOT_KDF_INFO = b"Veil ratchet v1 root"
ROOT_KDF_INFO_V2 = b"Veil ratchet v2 root"
HEADER_KEYS_INFO = b"Veil ratchet v1 initial header keys"
MESSAGE_KEY_CONSTANT = b"\x01"
CHAIN_KEY_CONSTANT = b"\x02"

RootStep = tuple[bytes, bytes, bytes | None]
"""``(next root key, chain key, next header key or None)``."""


def root_step(
    root_key: bytes, dh_output: bytes, kem_secret: bytes | None, *, header_key: bool
) -> RootStep:
    """One step of the root chain: mix a DH output (and a KEM secret) into the root key.

    The KEM secret is appended to the DH output, so the new keys stay secret as long
    as either X25519 or ML-KEM-768 holds.
    """
    return _expand_root(root_key, dh_output, kem_secret, ROOT_KDF_INFO, header_key)


def _expand_root(
    root_key: bytes, ikm_head: bytes, ikm_tail: bytes | None, info: bytes, header_key: bool
) -> RootStep:
    ikm = ikm_head if ikm_tail is None else ikm_head + ikm_tail
    length = 3 * KEY_SIZE if header_key else 2 * KEY_SIZE
    output = hkdf_sha256(ikm, salt=root_key, info=info, length=length)
    next_header_key = output[2 * KEY_SIZE :] if header_key else None
    return output[:KEY_SIZE], output[KEY_SIZE : 2 * KEY_SIZE], next_header_key


def root_transcript(
    sender_ratchet_key: bytes,
    receiver_ratchet_key: bytes,
    kem_ciphertext: bytes | None = None,
    receiver_kem_public: bytes | None = None,
    sender_kem_public: bytes | None = None,
) -> bytes:
    """The public values of one DH ratchet step, in a fixed order.

    The sender is the side that generated the new ratchet key (and encapsulated to
    the receiver's KEM key). Every field has a fixed size for a configuration, so
    the concatenation is unambiguous.
    """
    if kem_ciphertext is None or receiver_kem_public is None or sender_kem_public is None:
        return sender_ratchet_key + receiver_ratchet_key
    return (
        sender_ratchet_key
        + receiver_ratchet_key
        + kem_ciphertext
        + receiver_kem_public
        + sender_kem_public
    )


def root_step_v2(
    root_key: bytes,
    dh_output: bytes,
    kem_secret: bytes | None,
    transcript: bytes,
    *,
    header_key: bool,
) -> RootStep:
    """Ratchet v2's root step: ``HKDF-SHA256(salt = root_key, ikm = dh_output [||
    kem_secret] || transcript, info = ROOT_KDF_INFO_V2)``, so the KEM ciphertext and
    both KEM public keys (and both ratchet keys) are bound into the root key itself,
    not only through the AEAD. Every ikm field has a fixed size per configuration."""
    secrets = dh_output if kem_secret is None else dh_output + kem_secret
    return _expand_root(root_key, secrets, transcript, ROOT_KDF_INFO_V2, header_key)


def chain_step(chain_key: bytes) -> tuple[bytes, bytes]:
    """Advance a sending or receiving chain; return ``(next chain key, message key)``."""
    return hmac_sha256(chain_key, CHAIN_KEY_CONSTANT), hmac_sha256(chain_key, MESSAGE_KEY_CONSTANT)


def initial_header_keys(shared_secret: bytes) -> tuple[bytes, bytes]:
    """Derive the two header keys both sides start from (Signal's shared_hka, shared_nhkb).

    The first protects the initiator's first sending chain; the second is the
    responder's first next-header key.
    """
    output = hkdf_sha256(
        shared_secret, salt=bytes(KEY_SIZE), info=HEADER_KEYS_INFO, length=2 * KEY_SIZE
    )
    return output[:KEY_SIZE], output[KEY_SIZE:]
