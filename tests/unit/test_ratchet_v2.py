"""Ratchet v2: rollback-safe bodies, the restore rule, KEM binding in the root KDF,
repair keys that heal, and in-place upgrades between versions."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.ratchet_pairs import agreed_pair, rollback_bodies
from veil.crypto import DeterministicRandom, X25519KeyPair, hkdf_sha256
from veil.ratchet import (
    REPAIR_KEY_WINDOW,
    CorruptRatchetState,
    HeaderDecryptionFailed,
    Ratchet,
    RatchetConfig,
    RekeyRequired,
    UnsupportedRatchetVersion,
)
from veil.ratchet.ciphers import SALTED_MESSAGE_KEYS_INFO
from veil.ratchet.kdf import root_step_v2
from veil.ratchet.versions import mark_capable, split_capability
from veil.wire import VersionRange

V1_ONLY = VersionRange(1, 1)


def xor(left: bytes, right: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(left, right, strict=True))


def body_key_and_nonce(message_key: bytes, message: bytes) -> tuple[bytes, bytes]:
    """Recompute v2's body (key, nonce) from the message key and the envelope's salt."""
    salt = message[3:15]  # version, u16 header length, then the sealed header's nonce
    output = hkdf_sha256(message_key, salt=salt, info=SALTED_MESSAGE_KEYS_INFO, length=44)
    return output[:32], output[32:]


@pytest.mark.parametrize("pq", [False, True])
def test_rollback_never_reuses_the_body_keystream(pq: bool) -> None:
    """F1: snapshot, encrypt m1, restore the snapshot, encrypt m2 of the same length."""
    alice, bob, ad = agreed_pair(b"rollback", pq=pq)
    assert alice.version == 2
    m1, m2 = b"attack at dawn!!" * 4, b"retreat at noon!" * 4
    first, second, message_key = rollback_bodies(alice, m1, m2, ad)
    body_start = len(first) - len(m1) - 16
    assert xor(first[body_start:-16], second[body_start:-16]) != xor(m1, m2)
    assert body_key_and_nonce(message_key, first) != body_key_and_nonce(message_key, second)
    assert bob.decrypt(second, ad) == m2  # the peer still reads the restored side


def test_rollback_in_a_v1_session_repeats_the_keystream_hence_the_restore_rule() -> None:
    """Why a restored v1 state must not send: v1 derives key and nonce from the
    message key alone, so the same message key encrypts with the same keystream."""
    alice, _, ad = agreed_pair(b"rollback v1", pq=False, versions=V1_ONLY)
    m1, m2 = b"attack at dawn!!", b"retreat at noon!"
    first, second, _ = rollback_bodies(alice, m1, m2, ad)
    assert xor(first[-32:-16], second[-32:-16]) == xor(m1, m2)


@pytest.mark.parametrize("versions", [V1_ONLY, VersionRange(1, 2)])
def test_a_restored_state_refuses_to_send_until_its_next_dh_turn(versions: VersionRange) -> None:
    alice, bob, ad = agreed_pair(b"restore rule", pq=False, versions=versions)
    bob.decrypt(alice.encrypt(b"hello", ad), ad)
    backup = alice.to_bytes()
    alice.encrypt(b"sent after the backup", ad)
    restored = Ratchet.from_bytes(backup, DeterministicRandom(b"new machine"))
    restored.mark_restored()
    restored = Ratchet.from_bytes(restored.to_bytes(), DeterministicRandom(b"after a crash"))
    assert restored.needs_rekey
    with pytest.raises(RekeyRequired):
        restored.encrypt(b"would reuse a sent message key", ad)
    assert restored.decrypt(bob.encrypt(b"the peer turns", ad), ad) == b"the peer turns"
    assert not restored.needs_rekey
    assert bob.decrypt(restored.encrypt(b"re-keyed", ad), ad) == b"re-keyed"


def test_v2_root_step_binds_every_public_value_of_the_step() -> None:
    root_key, dh_output, kem_secret = bytes(32), bytes(range(32)), bytes(32)
    transcript = bytes(64 + 1088 + 2 * 1184)
    base = root_step_v2(root_key, dh_output, kem_secret, transcript, header_key=True)
    for position in (0, 40, 64, 64 + 1088, len(transcript) - 1):
        changed = bytearray(transcript)
        changed[position] ^= 1
        changed_step = root_step_v2(
            root_key, dh_output, kem_secret, bytes(changed), header_key=True
        )
        assert changed_step[0] != base[0] and changed_step[1] != base[1]


def test_the_capability_bit_is_ignored_by_x25519() -> None:
    rng = DeterministicRandom(b"capability")
    ours, theirs = X25519KeyPair.generate(rng), X25519KeyPair.generate(rng)
    marked = mark_capable(theirs.public)
    assert marked != theirs.public and split_capability(marked) == (theirs.public, True)
    assert split_capability(theirs.public) == (theirs.public, False)
    assert ours.exchange(marked) == ours.exchange(theirs.public)


def test_repair_key_heals_after_twenty_round_trips() -> None:
    """F2: a stolen repair key stops validating once the ratchet has moved on."""
    alice, bob, ad = agreed_pair(b"repair keys", pq=False)
    bob.decrypt(alice.encrypt(b"first", ad), ad)
    stolen = bob.repair_key()
    assert stolen is not None
    assert alice.repair_key_for(stolen.key_id) == stolen.key
    for turn in range(20):
        alice.decrypt(bob.encrypt(b"b%d" % turn, ad), ad)
        bob.decrypt(alice.encrypt(b"a%d" % turn, ad), ad)
        for sender, receiver in ((alice, bob), (bob, alice)):
            current = sender.repair_key()
            assert current is not None
            assert receiver.repair_key_for(current.key_id) == current.key
    assert alice.repair_key_for(stolen.key_id) is None
    assert bob.repair_key_for(stolen.key_id) is None


def test_repair_keys_survive_persistence() -> None:
    alice, bob, ad = agreed_pair(b"repair persist", pq=True)
    bob.decrypt(alice.encrypt(b"x", ad), ad)
    key = bob.repair_key()
    assert key is not None
    restored = Ratchet.from_bytes(alice.to_bytes(), DeterministicRandom(b"r"))
    assert restored.repair_key_for(key.key_id) == key.key


def test_a_downgraded_version_byte_does_not_open() -> None:
    """The version byte is the header's associated data: a relay cannot relabel a
    v2 message as v1 (which would select v1's body derivation)."""
    alice, bob, ad = agreed_pair(b"version byte", pq=False)
    message = alice.encrypt(b"x", ad)
    before = bob.to_bytes()
    with pytest.raises(HeaderDecryptionFailed):
        bob.decrypt(bytes([1]) + message[1:], ad)
    assert bob.to_bytes() == before
    assert bob.decrypt(message, ad) == b"x"


def test_v2_needs_header_encryption() -> None:
    rng = DeterministicRandom(b"plain v2")
    with pytest.raises(ValueError):
        Ratchet.initiate(
            RatchetConfig.signal_plain(), bytes(32), bytes(range(32)), rng, max_version=2
        )


def test_v1_only_receiver_refuses_a_v2_message() -> None:
    alice, _, ad = agreed_pair(b"v2 sender", pq=False)
    _, v1_bob, _ = agreed_pair(b"v2 sender", pq=False, versions=V1_ONLY)
    with pytest.raises(UnsupportedRatchetVersion):
        v1_bob.decrypt(alice.encrypt(b"x", ad), ad)


def trailer_offset(ratchet: Ratchet) -> int:
    """Where the format 2 trailer starts: after the repair keys' count and records."""
    count = len(ratchet._state.repair_keys)  # the test reads what it corrupts
    return len(ratchet.to_bytes()) - (4 + 41 * count)


@pytest.mark.parametrize(
    ("field", "value"),
    [(0, 3), (0, 0), (1, 0), (2, 2), (3, REPAIR_KEY_WINDOW + 1)],
)
def test_a_damaged_format_2_trailer_is_corrupt_state(field: int, value: int) -> None:
    alice, _, _ = agreed_pair(b"trailer", pq=False)
    data = bytearray(alice.to_bytes())
    data[trailer_offset(alice) + field] = value
    with pytest.raises(CorruptRatchetState):
        Ratchet.from_bytes(bytes(data), DeterministicRandom(b"r"))


def test_a_v2_state_claiming_the_plain_configuration_is_corrupt() -> None:
    alice, _, _ = agreed_pair(b"plain flags", pq=False)
    data = bytearray(alice.to_bytes())
    data[3], data[4] = 0, 2  # no header encryption, Signal's CBC cipher
    with pytest.raises(CorruptRatchetState):
        Ratchet.from_bytes(bytes(data), DeterministicRandom(b"r"))


STATE_V2 = agreed_pair(b"state fuzz", pq=False)[0].to_bytes()


@settings(max_examples=300, derandomize=True)
@given(position=st.integers(0, len(STATE_V2) - 1), flip=st.integers(1, 255))
def test_any_damaged_byte_of_a_state_loads_or_is_corrupt(position: int, flip: int) -> None:
    data = bytearray(STATE_V2)
    data[position] ^= flip
    with contextlib.suppress(CorruptRatchetState):
        Ratchet.from_bytes(bytes(data), DeterministicRandom(b"r"))
    with pytest.raises(CorruptRatchetState):
        Ratchet.from_bytes(bytes(data[:position]), DeterministicRandom(b"r"))
