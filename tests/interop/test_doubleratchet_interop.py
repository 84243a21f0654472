"""Veil's plain ratchet configuration interoperates both ways with PyPI ``doubleratchet``.

``RatchetConfig.signal_plain()`` runs the same core as Veil's connections with
three strategy choices swapped: no header encryption, no PQ, and Signal's
recommended message cipher (AES-256-CBC + HMAC-SHA256). The reference is
configured with Signal's recommended primitives too: HKDF-SHA256 root chain with
our root label, HMAC-SHA256 message chain (constant ``0x02 0x01``: next chain key
from 0x02, message key from 0x01), the AES/HMAC AEAD with our message label.

The only application-defined glue is the byte layout, restated here from the spec
(docs/protocol/ratchet.md), not imported from Veil: an envelope is ``u8 version
|| u16 header length (40) || ratchet key (32) || u32 PN || u32 N || body`` and the
body's associated data is ``u32 len(ad) || ad || envelope prefix``.
"""

from __future__ import annotations

import struct

from doubleratchet import DoubleRatchet, EncryptedMessage, Header
from doubleratchet.recommended import (
    HashFunction,
    aead_aes_hmac,
    diffie_hellman_ratchet_curve25519,
    kdf_hkdf,
    kdf_separate_hmacs,
)

from veil.crypto import DeterministicRandom, X25519KeyPair
from veil.ratchet import Ratchet, RatchetConfig
from veil.ratchet.ciphers import SIGNAL_MESSAGE_KEYS_INFO
from veil.ratchet.kdf import ROOT_KDF_INFO

AD = b"interop associated data"
VERSION = 1


class RootKdf(kdf_hkdf.KDF):
    @staticmethod
    def _get_hash_function() -> HashFunction:
        return HashFunction.SHA_256

    @staticmethod
    def _get_info() -> bytes:
        return ROOT_KDF_INFO


class ChainKdf(kdf_separate_hmacs.KDF):
    @staticmethod
    def _get_hash_function() -> HashFunction:
        return HashFunction.SHA_256


class Aead(aead_aes_hmac.AEAD):
    @staticmethod
    def _get_hash_function() -> HashFunction:
        return HashFunction.SHA_256

    @staticmethod
    def _get_info() -> bytes:
        return SIGNAL_MESSAGE_KEYS_INFO


def envelope_prefix(header: Header) -> bytes:
    encoded = header.ratchet_pub + struct.pack(
        ">II", header.previous_sending_chain_length, header.sending_chain_length
    )
    return struct.pack(">BH", VERSION, len(encoded)) + encoded


class Reference(DoubleRatchet):
    @staticmethod
    def _build_associated_data(associated_data: bytes, header: Header) -> bytes:
        return struct.pack(">I", len(associated_data)) + associated_data + envelope_prefix(header)


SETTINGS = {
    "diffie_hellman_ratchet_class": diffie_hellman_ratchet_curve25519.DiffieHellmanRatchet,
    "root_chain_kdf": RootKdf,
    "message_chain_kdf": ChainKdf,
    "message_chain_constant": b"\x02\x01",
    "dos_protection_threshold": 100,
    "max_num_skipped_message_keys": 1000,
    "aead": Aead,
}


def to_reference(message: bytes) -> EncryptedMessage:
    version, length = struct.unpack(">BH", message[:3])
    assert (version, length) == (VERSION, 40)
    previous, number = struct.unpack(">II", message[35:43])
    return EncryptedMessage(Header(message[3:35], previous, number), message[43:])


def from_reference(message: EncryptedMessage) -> bytes:
    return envelope_prefix(message.header) + message.ciphertext


def keys() -> tuple[DeterministicRandom, bytes, X25519KeyPair]:
    rng = DeterministicRandom(b"interop")
    return rng, rng.random_bytes(32), X25519KeyPair.generate(rng)


async def converse(veil: Ratchet, reference: Reference) -> None:
    """Several DH turns each way, with out-of-order delivery in both directions."""
    for turn in range(3):
        to_veil = [
            from_reference(await reference.encrypt_message(b"ref %d/%d" % (turn, i), AD))
            for i in range(3)
        ]
        for i in (2, 0, 1):
            assert veil.decrypt(to_veil[i], AD) == b"ref %d/%d" % (turn, i)
        to_reference_side = [veil.encrypt(b"veil %d/%d" % (turn, i), AD) for i in range(3)]
        for i in (1, 2, 0):
            plaintext = await reference.decrypt_message(to_reference(to_reference_side[i]), AD)
            assert plaintext == b"veil %d/%d" % (turn, i)


async def test_veil_initiates_and_the_reference_responds() -> None:
    rng, shared_secret, responder_key = keys()
    veil = Ratchet.initiate(RatchetConfig.signal_plain(), shared_secret, responder_key.public, rng)
    first = veil.encrypt(b"hello reference", AD)
    reference, plaintext = await Reference.decrypt_initial_message(
        **SETTINGS,
        shared_secret=shared_secret,
        own_ratchet_priv=responder_key.private,
        message=to_reference(first),
        associated_data=AD,
    )
    assert plaintext == b"hello reference"
    await converse(veil, reference)


async def test_reference_initiates_and_veil_responds() -> None:
    rng, shared_secret, responder_key = keys()
    reference, first = await Reference.encrypt_initial_message(
        **SETTINGS,
        shared_secret=shared_secret,
        recipient_ratchet_pub=responder_key.public,
        message=b"hello veil",
        associated_data=AD,
    )
    veil = Ratchet.respond(RatchetConfig.signal_plain(), shared_secret, responder_key, rng)
    assert veil.decrypt(from_reference(first), AD) == b"hello veil"
    await converse(veil, reference)


async def test_reference_messages_survive_a_veil_restart() -> None:
    rng, shared_secret, responder_key = keys()
    reference, first = await Reference.encrypt_initial_message(
        **SETTINGS,
        shared_secret=shared_secret,
        recipient_ratchet_pub=responder_key.public,
        message=b"before restart",
        associated_data=AD,
    )
    veil = Ratchet.respond(RatchetConfig.signal_plain(), shared_secret, responder_key, rng)
    veil.decrypt(from_reference(first), AD)
    veil = Ratchet.from_bytes(veil.to_bytes(), rng)
    await converse(veil, reference)
