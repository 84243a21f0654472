"""Regenerate the ratchet known-answer vectors: ``python tests/vectors/ratchet/generate.py``.

Everything is derived from ``veil.crypto.DeterministicRandom`` seeds, except
ML-KEM-768 encapsulation, which ``cryptography`` randomises internally: the
generator records each encapsulation's ``(public key, shared secret, ciphertext)``
and the tests replay them (and check them by decapsulation on the receiving side).

Ratchet v1 is frozen: ``kdf.json`` and ``header.json`` regenerate byte for byte,
while ``sequence.json`` and ``state_v1.json`` (whose states are in persisted format
1, no longer written) are pinned and never rewritten. The v2 files are
``kdf_v2.json`` and ``sequence_v2.json``; ``state_v2.json`` pins format 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from veil.crypto import DeterministicRandom, mlkem768_encapsulate
from veil.ratchet import InvitationSecrets, join, security_code
from veil.ratchet.agreement import SUPPORTED_VERSIONS
from veil.ratchet.ciphers import (
    AesGcmCipher,
    SaltedAesGcmCipher,
    SignalCbcHmacCipher,
    seal_header,
)
from veil.ratchet.header import Header
from veil.ratchet.kdf import chain_step, initial_header_keys, root_step, root_step_v2
from veil.ratchet.repair_keys import RepairKey
from veil.wire import VersionRange

HERE = Path(__file__).parent
FOLLOW_UP = b"after restore"
V1_ONLY = VersionRange(1, 1)

# (sender, plaintext) to send, or ("deliver", index of a sent message).
SCRIPT: list[tuple[str, Any]] = [
    ("joiner", "j0"),
    ("joiner", "j1"),
    ("deliver", 1),
    ("deliver", 0),
    ("inviter", "i0"),
    ("deliver", 2),
    ("joiner", "j2"),
    ("joiner", "j3"),
    ("deliver", 3),
    ("inviter", "i1"),
    ("deliver", 5),
    ("deliver", 4),
    ("joiner", "j4"),
    ("deliver", 6),
]


class RecordingKem:
    """Encapsulates for real and records every output, in call order."""

    def __init__(self) -> None:
        self.records: list[dict[str, str]] = []

    def __call__(self, public_key: bytes) -> tuple[bytes, bytes]:
        shared_secret, ciphertext = mlkem768_encapsulate(public_key)
        self.records.append(
            {
                "public_key": public_key.hex(),
                "shared_secret": shared_secret.hex(),
                "ciphertext": ciphertext.hex(),
            }
        )
        return shared_secret, ciphertext


def run_sequence(
    seed: bytes,
    pq: bool,
    encapsulate: Callable[[bytes], tuple[bytes, bytes]],
    versions: VersionRange,
) -> dict[str, Any]:
    """Run the agreement and :data:`SCRIPT`; return everything the vectors pin."""
    rng = DeterministicRandom(seed)
    secrets = InvitationSecrets.generate(rng, pq=pq, versions=versions)
    reply, joiner = join(secrets.public, rng, pq=pq, versions=versions, encapsulate=encapsulate)
    inviter = secrets.accept(reply)
    ad = joiner.associated_data
    sides = {
        "joiner": joiner.ratchet(rng, encapsulate=encapsulate),
        "inviter": inviter.ratchet(rng, encapsulate=encapsulate),
    }
    sent: list[tuple[str, bytes]] = []
    messages = []
    for action, argument in SCRIPT:
        if action == "deliver":
            sender, message = sent[argument]
            receiver = "inviter" if sender == "joiner" else "joiner"
            messages.append(
                {"deliver": argument, "plaintext": sides[receiver].decrypt(message, ad).decode()}
            )
        else:
            message = sides[action].encrypt(argument.encode(), ad)
            sent.append((action, message))
            messages.append({"sender": action, "plaintext": argument, "message": message.hex()})
    final_state = {name: side.to_bytes().hex() for name, side in sides.items()}
    follow_up = sides["joiner"].encrypt(FOLLOW_UP, ad)
    return {
        "seed": seed.hex(),
        "pq": pq,
        "versions": [versions.minimum, versions.maximum],
        "version": joiner.version,
        "security_code": str(joiner.security_code()),
        "invitation_secrets": secrets.to_bytes().hex(),
        "invitation": secrets.public.encode().hex(),
        "reply": reply.encode().hex(),
        "shared_secret": joiner.shared_secret.hex(),
        "associated_data": ad.hex(),
        "steps": messages,
        "final_state": final_state,
        "follow_up": follow_up.hex(),
    }


def sequences(label: bytes, versions: VersionRange) -> list[dict[str, Any]]:
    out = []
    for pq in (False, True):
        recorder = RecordingKem()
        vector = run_sequence(b"%s pq=%d" % (label, pq), pq, recorder, versions)
        vector["encapsulations"] = recorder.records
        out.append(vector)
    return out


def kdf_vectors() -> dict[str, Any]:
    rng = DeterministicRandom(b"ratchet kdf vectors")
    root = []
    for kem, header_key in ((False, False), (False, True), (True, True)):
        root_key, dh_output = rng.random_bytes(32), rng.random_bytes(32)
        kem_secret = rng.random_bytes(32) if kem else None
        next_root, chain, next_header = root_step(
            root_key, dh_output, kem_secret, header_key=header_key
        )
        root.append(
            {
                "root_key": root_key.hex(),
                "dh_output": dh_output.hex(),
                "kem_secret": None if kem_secret is None else kem_secret.hex(),
                "header_key": header_key,
                "next_root_key": next_root.hex(),
                "chain_key": chain.hex(),
                "next_header_key": None if next_header is None else next_header.hex(),
            }
        )
    chain_key = rng.random_bytes(32)
    chain = []
    for _ in range(3):
        next_chain, message_key = chain_step(chain_key)
        chain.append(
            {
                "chain_key": chain_key.hex(),
                "next_chain_key": next_chain.hex(),
                "message_key": message_key.hex(),
            }
        )
        chain_key = next_chain
    shared_secret = rng.random_bytes(32)
    first, second = initial_header_keys(shared_secret)
    message_key, plaintext, ad = rng.random_bytes(32), b"known answer", b"ad"
    return {
        "root_step": root,
        "chain_step": chain,
        "initial_header_keys": {
            "shared_secret": shared_secret.hex(),
            "first": first.hex(),
            "second": second.hex(),
        },
        "message_ciphers": {
            "message_key": message_key.hex(),
            "plaintext": plaintext.hex(),
            "associated_data": ad.hex(),
            "aes_gcm": AesGcmCipher().seal(message_key, plaintext, ad).hex(),
            "signal_cbc_hmac": SignalCbcHmacCipher().seal(message_key, plaintext, ad).hex(),
        },
    }


def kdf_vectors_v2() -> dict[str, Any]:
    """Ratchet v2's new constructions: root step with transcript, salted body
    cipher, repair-key export and the version 2 security code."""
    rng = DeterministicRandom(b"ratchet v2 kdf vectors")
    root = []
    for kem in (False, True):
        root_key, dh_output = rng.random_bytes(32), rng.random_bytes(32)
        kem_secret = rng.random_bytes(32) if kem else None
        transcript = rng.random_bytes(64 + (1088 + 2 * 1184 if kem else 0))
        next_root, chain, next_header = root_step_v2(
            root_key, dh_output, kem_secret, transcript, header_key=True
        )
        assert next_header is not None
        root.append(
            {
                "root_key": root_key.hex(),
                "dh_output": dh_output.hex(),
                "kem_secret": None if kem_secret is None else kem_secret.hex(),
                "transcript": transcript.hex(),
                "next_root_key": next_root.hex(),
                "chain_key": chain.hex(),
                "next_header_key": next_header.hex(),
            }
        )
    message_key, salt, plaintext, ad = (
        rng.random_bytes(32),
        rng.random_bytes(12),
        b"known answer",
        b"ad",
    )
    repair_root = rng.random_bytes(32)
    repair = RepairKey.export(repair_root, shared=True)
    local, remote, transcript_hash = (rng.random_bytes(32) for _ in range(3))
    code = security_code(local, remote, transcript_hash=transcript_hash)
    return {
        "root_step": root,
        "salted_message_cipher": {
            "message_key": message_key.hex(),
            "salt": salt.hex(),
            "plaintext": plaintext.hex(),
            "associated_data": ad.hex(),
            "body": SaltedAesGcmCipher().seal(message_key, salt, plaintext, ad).hex(),
        },
        "repair_key": {
            "root_key": repair_root.hex(),
            "key": repair.key.hex(),
            "key_id": repair.key_id.hex(),
        },
        "security_code": {
            "local_identity_key": local.hex(),
            "remote_identity_key": remote.hex(),
            "transcript_hash": transcript_hash.hex(),
            "digits": code.digits,
            "qr_payload": code.qr_payload.hex(),
        },
    }


def header_vectors() -> list[dict[str, Any]]:
    rng = DeterministicRandom(b"ratchet header vectors")
    out = []
    for pq in (False, True):
        header = Header(
            rng.random_bytes(32),
            7,
            42,
            rng.random_bytes(1184) if pq else None,
            rng.random_bytes(1088) if pq else None,
        )
        header_key, nonce = rng.random_bytes(32), rng.random_bytes(12)
        out.append(
            {
                "pq": pq,
                "ratchet_key": header.ratchet_key.hex(),
                "previous_length": header.previous_length,
                "message_number": header.message_number,
                "kem_public": None if header.kem_public is None else header.kem_public.hex(),
                "kem_ciphertext": None
                if header.kem_ciphertext is None
                else header.kem_ciphertext.hex(),
                "encoded": header.encode().hex(),
                "header_key": header_key.hex(),
                "nonce": nonce.hex(),
                "version": 1,
                "sealed": seal_header(header_key, nonce, header.encode(), bytes([1])).hex(),
            }
        )
    return out


def write(name: str, content: Any) -> None:
    (HERE / name).write_text(json.dumps(content, indent=1) + "\n")


def write_pinned(name: str, content: Any) -> None:
    """Write a pinned file once: later code must keep reading it as it is.
    ``--repin NAME`` rewrites it (only while its format is being corrected before
    release)."""
    arguments = sys.argv[1:]
    repin = "--repin" in arguments and name in arguments
    if not (HERE / name).exists() or repin:
        write(name, content)


def pinned_states(sequence: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = ("pq", "associated_data", "final_state", "follow_up")
    return [{key: vector[key] for key in keys} for vector in sequence]


def main() -> None:
    write("kdf.json", kdf_vectors())
    write("header.json", header_vectors())
    v1_sequence = sequences(b"ratchet sequence", V1_ONLY)
    write_pinned("sequence.json", v1_sequence)
    write_pinned("state_v1.json", pinned_states(v1_sequence))
    write("kdf_v2.json", kdf_vectors_v2())
    v2_sequence = sequences(b"ratchet v2 sequence", SUPPORTED_VERSIONS)
    write("sequence_v2.json", v2_sequence)
    write_pinned("state_v2.json", pinned_states(v2_sequence))


if __name__ == "__main__":
    main()
