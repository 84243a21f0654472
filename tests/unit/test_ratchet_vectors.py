"""Known-answer vectors for the ratchet (tests/vectors/ratchet, see its README).

The v1 files are frozen: v1 sessions must still produce every v1 message byte for
byte, and states pinned in format 1 must still load (migrated to format 2).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from veil.crypto import DeterministicRandom, MlKem768KeyPair, constant_time_equal
from veil.ratchet import InvitationSecrets, Ratchet, join, security_code
from veil.ratchet.agreement import SUPPORTED_VERSIONS
from veil.ratchet.ciphers import (
    AesGcmCipher,
    SaltedAesGcmCipher,
    SignalCbcHmacCipher,
    open_header,
    seal_header,
)
from veil.ratchet.header import Header
from veil.ratchet.kdf import chain_step, initial_header_keys, root_step, root_step_v2
from veil.ratchet.repair_keys import RepairKey
from veil.wire import VersionRange

Loader = Callable[[str], Any]
V1_ONLY = VersionRange(1, 1)
SEQUENCES = [("ratchet/sequence.json", V1_ONLY), ("ratchet/sequence_v2.json", SUPPORTED_VERSIONS)]


def unhex(value: str | None) -> bytes | None:
    return None if value is None else bytes.fromhex(value)


class ReplayedKem:
    """Hands back recorded encapsulations in order, checking each target key."""

    def __init__(self, records: list[dict[str, str]]) -> None:
        self._records = iter(records)

    def __call__(self, public_key: bytes) -> tuple[bytes, bytes]:
        record = next(self._records)
        assert bytes.fromhex(record["public_key"]) == public_key
        return bytes.fromhex(record["shared_secret"]), bytes.fromhex(record["ciphertext"])


def test_root_and_chain_kdfs(vectors: Loader) -> None:
    data = vectors("ratchet/kdf.json")
    for case in data["root_step"]:
        outputs = root_step(
            bytes.fromhex(case["root_key"]),
            bytes.fromhex(case["dh_output"]),
            unhex(case["kem_secret"]),
            header_key=case["header_key"],
        )
        assert outputs == (
            bytes.fromhex(case["next_root_key"]),
            bytes.fromhex(case["chain_key"]),
            unhex(case["next_header_key"]),
        )
    for case in data["chain_step"]:
        assert chain_step(bytes.fromhex(case["chain_key"])) == (
            bytes.fromhex(case["next_chain_key"]),
            bytes.fromhex(case["message_key"]),
        )
    keys = data["initial_header_keys"]
    assert initial_header_keys(bytes.fromhex(keys["shared_secret"])) == (
        bytes.fromhex(keys["first"]),
        bytes.fromhex(keys["second"]),
    )


def test_message_ciphers(vectors: Loader) -> None:
    case = vectors("ratchet/kdf.json")["message_ciphers"]
    key, plaintext, ad = (
        bytes.fromhex(case[k]) for k in ("message_key", "plaintext", "associated_data")
    )
    for cipher, name in ((AesGcmCipher(), "aes_gcm"), (SignalCbcHmacCipher(), "signal_cbc_hmac")):
        assert cipher.seal(key, plaintext, ad).hex() == case[name]
        assert cipher.open(key, bytes.fromhex(case[name]), ad) == plaintext


def test_header_encoding_and_encryption(vectors: Loader) -> None:
    for case in vectors("ratchet/header.json"):
        header = Header(
            bytes.fromhex(case["ratchet_key"]),
            case["previous_length"],
            case["message_number"],
            unhex(case["kem_public"]),
            unhex(case["kem_ciphertext"]),
        )
        encoded = bytes.fromhex(case["encoded"])
        assert header.encode() == encoded
        assert Header.decode(encoded, pq=case["pq"]) == header
        key, nonce = bytes.fromhex(case["header_key"]), bytes.fromhex(case["nonce"])
        version = bytes([case["version"]])
        assert seal_header(key, nonce, encoded, version).hex() == case["sealed"]
        assert open_header(key, bytes.fromhex(case["sealed"]), version) == encoded


def test_v2_kdfs_cipher_repair_key_and_security_code(vectors: Loader) -> None:
    data = vectors("ratchet/kdf_v2.json")
    for case in data["root_step"]:
        outputs = root_step_v2(
            bytes.fromhex(case["root_key"]),
            bytes.fromhex(case["dh_output"]),
            unhex(case["kem_secret"]),
            bytes.fromhex(case["transcript"]),
            header_key=True,
        )
        expected = ("next_root_key", "chain_key", "next_header_key")
        assert outputs == tuple(bytes.fromhex(case[name]) for name in expected)
    body = data["salted_message_cipher"]
    key, salt, plaintext, ad, sealed = (
        bytes.fromhex(body[name])
        for name in ("message_key", "salt", "plaintext", "associated_data", "body")
    )
    assert SaltedAesGcmCipher().seal(key, salt, plaintext, ad) == sealed
    assert SaltedAesGcmCipher().open(key, salt, sealed, ad) == plaintext
    repair = data["repair_key"]
    exported = RepairKey.export(bytes.fromhex(repair["root_key"]), shared=True)
    assert (exported.key.hex(), exported.key_id.hex()) == (repair["key"], repair["key_id"])
    code_case = data["security_code"]
    code = security_code(
        bytes.fromhex(code_case["local_identity_key"]),
        bytes.fromhex(code_case["remote_identity_key"]),
        transcript_hash=bytes.fromhex(code_case["transcript_hash"]),
    )
    assert (code.digits, code.qr_payload.hex()) == (code_case["digits"], code_case["qr_payload"])


@pytest.mark.parametrize(("path", "versions"), SEQUENCES)
@pytest.mark.parametrize("pq", [False, True])
def test_agreement_and_message_sequence_replay_byte_for_byte(
    vectors: Loader, path: str, versions: VersionRange, pq: bool
) -> None:
    case = next(v for v in vectors(path) if v["pq"] is pq)
    kem = ReplayedKem(case["encapsulations"])
    rng = DeterministicRandom(bytes.fromhex(case["seed"]))
    secrets = InvitationSecrets.generate(rng, pq=pq, versions=versions)
    assert secrets.to_bytes().hex() == case["invitation_secrets"]
    assert secrets.public.encode().hex() == case["invitation"]
    reply, joiner = join(secrets.public, rng, pq=pq, versions=versions, encapsulate=kem)
    assert reply.encode().hex() == case["reply"]
    inviter = secrets.accept(reply)  # decapsulates the recorded ciphertext
    assert joiner.shared_secret.hex() == inviter.shared_secret.hex() == case["shared_secret"]
    ad = bytes.fromhex(case["associated_data"])
    sides = {
        "joiner": joiner.ratchet(rng, encapsulate=kem),
        "inviter": inviter.ratchet(rng, encapsulate=kem),
    }
    sent: list[tuple[str, bytes]] = []
    for step in case["steps"]:
        if "deliver" in step:
            sender, message = sent[step["deliver"]]
            receiver = sides["inviter" if sender == "joiner" else "joiner"]
            assert receiver.decrypt(message, ad) == step["plaintext"].encode()
        else:
            message = sides[step["sender"]].encrypt(step["plaintext"].encode(), ad)
            assert message.hex() == step["message"]
            sent.append((step["sender"], message))
    for name, side in sides.items():
        assert_same_session(side.to_bytes(), bytes.fromhex(case["final_state"][name]))


def assert_same_session(live: bytes, pinned: bytes) -> None:
    """Equal bytes, or a format-1 pin whose every field the live format-2 state
    repeats (format 1 is format 2 without its trailer)."""
    if pinned[0] == 2:
        assert live == pinned
    else:
        assert (live[0], pinned[0]) == (2, 1)
        assert live[1 : len(pinned)] == pinned[1:]


def test_recorded_encapsulations_decapsulate_on_the_receiving_side(vectors: Loader) -> None:
    case = next(v for v in vectors("ratchet/sequence.json") if v["pq"])
    rng = DeterministicRandom(bytes.fromhex(case["seed"]))
    secrets = InvitationSecrets.generate(rng, pq=True)
    first = case["encapsulations"][0]
    assert isinstance(secrets.kem, MlKem768KeyPair)
    shared_secret = secrets.kem.decapsulate(bytes.fromhex(first["ciphertext"]))
    assert constant_time_equal(shared_secret, bytes.fromhex(first["shared_secret"]))


@pytest.mark.parametrize("path", ["ratchet/state_v1.json", "ratchet/state_v2.json"])
def test_pinned_states_restore_and_decrypt(vectors: Loader, path: str) -> None:
    for case in vectors(path):
        ad = bytes.fromhex(case["associated_data"])
        for name, state in case["final_state"].items():
            restored = Ratchet.from_bytes(bytes.fromhex(state), DeterministicRandom(b"pinned"))
            assert_same_session(restored.to_bytes(), bytes.fromhex(state))
            again = Ratchet.from_bytes(restored.to_bytes(), DeterministicRandom(b"pinned"))
            assert again.to_bytes() == restored.to_bytes(), name
        inviter = Ratchet.from_bytes(
            bytes.fromhex(case["final_state"]["inviter"]), DeterministicRandom(b"pinned")
        )
        assert inviter.decrypt(bytes.fromhex(case["follow_up"]), ad) == b"after restore"
