"""Double Ratchet behaviour: round trips, ordering, replays, tampering, limits, persistence."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.ratchet_pairs import agreed_pair, plain_pair
from veil.crypto import DeterministicRandom
from veil.ratchet import (
    CannotSendYet,
    CorruptRatchetState,
    DuplicateMessage,
    HeaderDecryptionFailed,
    InvalidPeerKey,
    MalformedMessage,
    MessageAuthenticationFailed,
    Ratchet,
    RatchetConfig,
    RatchetProtocolError,
    SkipLimits,
    TooManySkippedMessages,
    UnsupportedRatchetVersion,
    max_plaintext_overhead,
)

AD = b"associated data"
PAIRS = ["veil", "veil-pq", "plain"]


def make(kind: str, limits: SkipLimits | None = None) -> tuple[Ratchet, Ratchet, bytes]:
    if kind == "plain":
        initiator, responder = plain_pair(b"plain", limits)
        return initiator, responder, AD
    return agreed_pair(kind.encode(), pq=kind == "veil-pq", limits=limits)


def rng() -> DeterministicRandom:
    return DeterministicRandom(b"restore")


@pytest.mark.parametrize("kind", PAIRS)
def test_conversation_with_dh_turns_round_trips(kind: str) -> None:
    alice, bob, ad = make(kind)
    for turn in range(4):
        sender, receiver = (alice, bob) if turn % 2 == 0 else (bob, alice)
        messages = [sender.encrypt(f"{turn}/{i}".encode(), ad) for i in range(3)]
        assert [receiver.decrypt(m, ad) for m in messages] == [
            f"{turn}/{i}".encode() for i in range(3)
        ]


@pytest.mark.parametrize("kind", PAIRS)
@pytest.mark.parametrize("length", [0, 1, 15, 16, 100, 1000])
def test_message_size_is_predicted_exactly(kind: str, length: int) -> None:
    alice, _, ad = make(kind)
    assert len(alice.encrypt(bytes(length), ad)) == alice.config.message_size(length)


def test_max_plaintext_overhead_is_constant_for_veil() -> None:
    assert max_plaintext_overhead(pq=False) == 3 + 40 + 28 + 16
    assert max_plaintext_overhead(pq=True) == 3 + 40 + 1184 + 1088 + 28 + 16


@pytest.mark.parametrize("kind", PAIRS)
def test_out_of_order_across_a_dh_turn(kind: str) -> None:
    alice, bob, ad = make(kind)
    early = [alice.encrypt(b"a%d" % i, ad) for i in range(3)]
    assert bob.decrypt(early[2], ad) == b"a2"
    assert alice.decrypt(bob.encrypt(b"b0", ad), ad) == b"b0"
    late = alice.encrypt(b"a-next-chain", ad)
    assert bob.decrypt(late, ad) == b"a-next-chain"
    assert bob.decrypt(early[0], ad) == b"a0"
    assert bob.decrypt(early[1], ad) == b"a1"
    assert bob.skipped_key_count == 0


@pytest.mark.parametrize("kind", PAIRS)
def test_replays_are_detected_and_change_nothing(kind: str) -> None:
    alice, bob, ad = make(kind)
    first, second = alice.encrypt(b"1", ad), alice.encrypt(b"2", ad)
    bob.decrypt(second, ad)
    bob.decrypt(first, ad)  # consumed from the skipped keys
    before = bob.to_bytes()
    for replay in (first, second):
        with pytest.raises(DuplicateMessage):
            bob.decrypt(replay, ad)
    assert bob.to_bytes() == before


@pytest.mark.parametrize("kind", PAIRS)
def test_wrong_associated_data_is_rejected(kind: str) -> None:
    alice, bob, ad = make(kind)
    message = alice.encrypt(b"hello", ad)
    before = bob.to_bytes()
    with pytest.raises(MessageAuthenticationFailed):
        bob.decrypt(message, ad + b"!")
    assert bob.to_bytes() == before
    assert bob.decrypt(message, ad) == b"hello"


@pytest.mark.parametrize("kind", ["veil", "plain"])
@settings(max_examples=60, derandomize=True)
@given(data=st.data())
def test_any_tampered_byte_is_rejected_without_state_change(kind: str, data: st.DataObject) -> None:
    alice, bob, ad = make(kind)
    bob.decrypt(alice.encrypt(b"warm-up", ad), ad)
    message = bytearray(alice.encrypt(b"payload", ad))
    position = data.draw(st.integers(0, len(message) - 1))
    message[position] ^= data.draw(st.integers(1, 255))
    before = bob.to_bytes()
    with pytest.raises(RatchetProtocolError):
        bob.decrypt(bytes(message), ad)
    assert bob.to_bytes() == before


def test_tampered_pq_header_is_rejected_without_state_change() -> None:
    alice, bob, ad = make("veil-pq")
    message = bytearray(alice.encrypt(b"payload", ad))
    before = bob.to_bytes()
    for position in (20, 500, 2000, len(message) - 1):
        tampered = bytearray(message)
        tampered[position] ^= 1
        with pytest.raises((HeaderDecryptionFailed, MessageAuthenticationFailed)):
            bob.decrypt(bytes(tampered), ad)
        assert bob.to_bytes() == before
    assert bob.decrypt(bytes(message), ad) == b"payload"


@settings(max_examples=200, derandomize=True)
@given(garbage=st.binary(max_size=200))
def test_garbage_never_escapes_the_error_hierarchy(garbage: bytes) -> None:
    _, bob, ad = make("veil")
    with pytest.raises(RatchetProtocolError):
        bob.decrypt(garbage, ad)


def test_wrong_version_byte_is_its_own_error() -> None:
    alice, bob, ad = make("plain")
    message = alice.encrypt(b"x", ad)
    with pytest.raises(UnsupportedRatchetVersion):
        bob.decrypt(bytes([2]) + message[1:], ad)


def test_header_with_wrong_length_is_malformed() -> None:
    alice, bob, ad = make("veil")
    message = alice.encrypt(b"x", ad)
    with pytest.raises(MalformedMessage):
        bob.decrypt(message[:1] + b"\x00\x05" + bytes(5), ad)


def test_low_order_ratchet_key_is_an_invalid_peer_key() -> None:
    alice, bob, ad = make("plain")
    message = alice.encrypt(b"x", ad)
    forged = message[:3] + bytes(32) + message[35:]  # the all-zero point has order 1
    with pytest.raises(InvalidPeerKey):
        bob.decrypt(forged, ad)


def test_responder_cannot_send_first() -> None:
    _, bob, ad = make("veil")
    assert not bob.can_send
    with pytest.raises(CannotSendYet):
        bob.encrypt(b"too early", ad)


@pytest.mark.parametrize("kind", PAIRS)
def test_forward_jump_beyond_max_skip_is_refused(kind: str) -> None:
    alice, bob, ad = make(kind, SkipLimits(max_skip=5, max_per_chain=10, max_total=10))
    for _ in range(6):
        alice.encrypt(b"lost", ad)
    message = alice.encrypt(b"too far", ad)
    before = bob.to_bytes()
    with pytest.raises(TooManySkippedMessages):
        bob.decrypt(message, ad)
    assert bob.to_bytes() == before


def test_jump_within_max_skip_is_accepted() -> None:
    alice, bob, ad = make("veil", SkipLimits(max_skip=5, max_per_chain=10, max_total=10))
    for _ in range(5):
        alice.encrypt(b"lost", ad)
    assert bob.decrypt(alice.encrypt(b"just in", ad), ad) == b"just in"
    assert bob.skipped_key_count == 5


def test_per_chain_bound_evicts_oldest_keys_first() -> None:
    alice, bob, ad = make("veil", SkipLimits(max_skip=10, max_per_chain=3, max_total=5))
    lost = [alice.encrypt(b"%d" % i, ad) for i in range(5)]
    bob.decrypt(alice.encrypt(b"last", ad), ad)
    assert bob.skipped_key_count == 3
    with pytest.raises(DuplicateMessage):
        bob.decrypt(lost[0], ad)  # evicted: it cannot be told apart from a replay
    assert bob.decrypt(lost[4], ad) == b"4"


def test_total_bound_evicts_the_oldest_chain_first() -> None:
    alice, bob, ad = make("plain", SkipLimits(max_skip=10, max_per_chain=3, max_total=4))
    old_chain = [alice.encrypt(b"old%d" % i, ad) for i in range(3)]
    bob.decrypt(alice.encrypt(b"old-last", ad), ad)
    alice.decrypt(bob.encrypt(b"turn", ad), ad)
    new_chain = [alice.encrypt(b"new%d" % i, ad) for i in range(3)]
    bob.decrypt(alice.encrypt(b"new-last", ad), ad)
    assert bob.skipped_key_count == 4
    with pytest.raises(DuplicateMessage):
        bob.decrypt(old_chain[1], ad)
    assert bob.decrypt(old_chain[2], ad) == b"old2"
    assert [bob.decrypt(m, ad) for m in new_chain] == [b"new0", b"new1", b"new2"]


@pytest.mark.parametrize(
    "limits",
    [
        {"max_skip": 0},
        {"max_per_chain": 0},
        {"max_total": 0},
        {"max_per_chain": 10, "max_total": 5},
    ],
)
def test_skip_limits_are_checked_at_construction(limits: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        SkipLimits(**limits)


@pytest.mark.parametrize("kind", PAIRS)
def test_state_round_trips_exactly_and_keeps_working(kind: str) -> None:
    alice, bob, ad = make(kind)
    pending = [alice.encrypt(b"%d" % i, ad) for i in range(3)]
    bob.decrypt(pending[2], ad)
    for side in (alice, bob):
        data = side.to_bytes()
        assert Ratchet.from_bytes(data, rng()).to_bytes() == data
    bob = Ratchet.from_bytes(bob.to_bytes(), rng())
    alice = Ratchet.from_bytes(alice.to_bytes(), rng())
    assert bob.decrypt(pending[0], ad) == b"0"
    assert alice.decrypt(bob.encrypt(b"reply", ad), ad) == b"reply"


def test_restoring_with_smaller_limits_evicts_oldest() -> None:
    alice, bob, ad = make("veil")
    for _ in range(4):
        alice.encrypt(b"lost", ad)
    bob.decrypt(alice.encrypt(b"x", ad), ad)
    restored = Ratchet.from_bytes(
        bob.to_bytes(), rng(), limits=SkipLimits(max_skip=2, max_per_chain=2, max_total=2)
    )
    assert restored.skipped_key_count == 2


def test_corrupt_state_is_reported() -> None:
    alice, _, _ = make("veil-pq")
    data = alice.to_bytes()
    damaged = [
        data[:-1],
        data + b"\x00",
        bytes([9]) + data[1:],
        data[:3] + bytes([0x80]) + data[4:],
        data[:4] + bytes([7]) + data[5:],
    ]
    for bad in damaged:
        with pytest.raises(CorruptRatchetState):
            Ratchet.from_bytes(bad, rng())


@settings(max_examples=200, derandomize=True)
@given(data=st.binary(max_size=400))
def test_state_parser_fuzz(data: bytes) -> None:
    with contextlib.suppress(CorruptRatchetState):
        Ratchet.from_bytes(data, rng())


def test_signal_plain_and_veil_configs_differ_only_by_strategy() -> None:
    plain, veil = RatchetConfig.signal_plain(), RatchetConfig.veil(pq=False)
    assert (plain.header_encryption, plain.pq) == (False, False)
    assert (veil.header_encryption, veil.pq) == (True, False)
    assert plain.cipher.cipher_id != veil.cipher.cipher_id


@pytest.mark.parametrize("kind", PAIRS)
def test_break_in_recovery_once_a_fresh_ratchet_key_is_used(kind: str) -> None:
    """An attacker with a copy of Bob's state, who sees every message Bob gets,
    reads on until Bob sends with a ratchet key generated after the break-in."""
    alice, bob, ad = make(kind)
    bob.decrypt(alice.encrypt(b"before", ad), ad)
    attacker = Ratchet.from_bytes(bob.to_bytes(), DeterministicRandom(b"attacker"))

    def to_bob(plaintext: bytes) -> bytes:
        message = alice.encrypt(plaintext, ad)
        assert bob.decrypt(message, ad) == plaintext
        return message

    assert attacker.decrypt(to_bob(b"same chain"), ad) == b"same chain"
    alice.decrypt(bob.encrypt(b"reply with the stolen key", ad), ad)
    assert attacker.decrypt(to_bob(b"still exposed"), ad) == b"still exposed"
    alice.decrypt(bob.encrypt(b"reply with a fresh key", ad), ad)
    healed = to_bob(b"healed")
    with pytest.raises(RatchetProtocolError):
        attacker.decrypt(healed, ad)
