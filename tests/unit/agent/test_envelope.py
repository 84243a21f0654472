"""The agent envelope: layout, verdicts, persisted tracker state, and random delivery orders."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.agent.envelope import (
    MAX_BODY_SIZE,
    MAX_MISSING_RANGES,
    EnvelopeTracker,
    Integrity,
    OpenedEnvelope,
)
from veil.agent.errors import AgentProtocolError, MalformedEnvelope, MalformedTrackerState
from veil.crypto import sha256


def sealed(count: int, sender: EnvelopeTracker | None = None) -> list[bytes]:
    sender = sender or EnvelopeTracker()
    return [sender.seal(f"message {n}".encode()) for n in range(1, count + 1)]


def test_layout_byte_by_byte_and_hash_chain() -> None:
    sender = EnvelopeTracker()
    first, second = sender.seal(b"hi"), sender.seal(b"")
    assert first.hex() == "01" + "0000000000000001" + "00" * 32 + "00000002" + "6869"
    assert second[9:41] == sha256(first)
    assert (sender.last_sent, sender.last_sent_hash) == (2, sha256(second))


def test_in_order_delivery_is_ok() -> None:
    receiver = EnvelopeTracker()
    opened = [receiver.open(envelope) for envelope in sealed(3)]
    assert opened[2] == OpenedEnvelope(3, b"message 3", Integrity.OK)
    assert {o.integrity for o in opened} == {Integrity.OK}


def test_gap_then_late_arrival_then_duplicate() -> None:
    one, _, three, four = sealed(4)
    receiver = EnvelopeTracker()
    receiver.open(one)
    assert receiver.open(four) == OpenedEnvelope(4, b"message 4", Integrity.SKIPPED, skipped=2)
    assert receiver.missing == [(2, 3)]
    assert receiver.open(three).integrity is Integrity.LATE
    assert receiver.missing == [(2, 2)]
    assert receiver.open(three).integrity is Integrity.DUPLICATE
    assert receiver.open(one).integrity is Integrity.DUPLICATE


def test_forked_history_is_bad_hash_and_the_chain_follows_the_fork() -> None:
    honest, forked = sealed(2), sealed(2, EnvelopeTracker(last_sent_hash=b"\x01" * 32))
    receiver = EnvelopeTracker()
    assert receiver.open(forked[0]).integrity is Integrity.BAD_HASH
    assert receiver.open(forked[1]).integrity is Integrity.OK
    assert receiver.open(honest[1]).integrity is Integrity.DUPLICATE


def test_open_on_a_copy_leaves_the_original_untouched() -> None:
    receiver = EnvelopeTracker()
    attempt = receiver.copy()
    attempt.open(sealed(3)[2])
    assert receiver == EnvelopeTracker()
    assert attempt.missing == [(1, 2)]


def test_missing_ranges_are_bounded_oldest_forgotten() -> None:
    envelopes = sealed(2 * MAX_MISSING_RANGES + 4)
    receiver = EnvelopeTracker()
    for envelope in envelopes[1::2]:  # every other message: one gap each
        receiver.open(envelope)
    assert len(receiver.missing) == MAX_MISSING_RANGES
    assert receiver.open(envelopes[0]).integrity is Integrity.DUPLICATE  # forgotten gap
    assert receiver.open(envelopes[-2]).integrity is Integrity.LATE


def test_malformed_envelopes_are_rejected() -> None:
    envelope = sealed(1)[0]
    with pytest.raises(MalformedEnvelope, match="trailing"):
        EnvelopeTracker().open(envelope + b"\x00")
    with pytest.raises(MalformedEnvelope, match="version"):
        EnvelopeTracker().open(b"\x02" + envelope[1:])
    with pytest.raises(MalformedEnvelope, match="start at 1"):
        EnvelopeTracker().open(envelope[:1] + bytes(8) + envelope[9:])
    over_cap = (MAX_BODY_SIZE + 1).to_bytes(4, "big")
    with pytest.raises(MalformedEnvelope, match="cap"):
        EnvelopeTracker().open(envelope[:41] + over_cap + bytes(MAX_BODY_SIZE + 1))
    with pytest.raises(ValueError, match="exceeds"):
        EnvelopeTracker().seal(bytes(MAX_BODY_SIZE + 1))


def test_tracker_state_layout_and_strict_restore() -> None:
    tracker = EnvelopeTracker()
    for envelope in sealed(4)[::3]:
        tracker.open(envelope)
    tracker.seal(b"x")
    data = tracker.to_bytes()
    assert data[0] == 1 and data[-17:] == b"\x01" + (2).to_bytes(8, "big") + (3).to_bytes(8, "big")
    assert EnvelopeTracker.from_bytes(data) == tracker
    with pytest.raises(MalformedTrackerState, match="trailing"):
        EnvelopeTracker.from_bytes(data + b"\x00")
    with pytest.raises(MalformedTrackerState, match="version"):
        EnvelopeTracker.from_bytes(b"\x07" + data[1:])
    inverted = data[:-16] + (3).to_bytes(8, "big") + (2).to_bytes(8, "big")
    with pytest.raises(MalformedTrackerState, match="range"):
        EnvelopeTracker.from_bytes(inverted)


@given(
    count=st.integers(1, 40),
    schedule=st.lists(st.integers(0, 39), max_size=80),
    persist_every=st.integers(1, 5),
)
def test_random_delivery_orders_classify_every_message_once(
    count: int, schedule: list[int], persist_every: int
) -> None:
    envelopes = sealed(count)
    receiver = EnvelopeTracker()
    first_time: dict[int, Integrity] = {}
    skipped_total = 0
    for step, index in enumerate(i % count for i in schedule):
        if step % persist_every == 0:  # a restart restores exactly what was stored
            receiver = EnvelopeTracker.from_bytes(receiver.to_bytes())
        opened = receiver.open(envelopes[index])
        assert opened.sequence == index + 1 and opened.body == f"message {index + 1}".encode()
        if opened.sequence in first_time:
            assert opened.integrity is Integrity.DUPLICATE
        else:
            assert opened.integrity in (Integrity.OK, Integrity.SKIPPED, Integrity.LATE)
            first_time[opened.sequence] = opened.integrity
        skipped_total += opened.skipped
    late = sum(1 for verdict in first_time.values() if verdict is Integrity.LATE)
    never = receiver.last_received - len(first_time)
    assert skipped_total == late + never
    assert sum(last - first + 1 for first, last in receiver.missing) == never


@given(st.binary(max_size=120))
def test_random_bytes_only_raise_agent_protocol_errors(data: bytes) -> None:
    with contextlib.suppress(AgentProtocolError):
        EnvelopeTracker().open(data)


@given(st.binary(max_size=200))
def test_random_state_bytes_only_raise_tracker_state_errors(data: bytes) -> None:
    try:
        tracker = EnvelopeTracker.from_bytes(data)
    except MalformedTrackerState:
        return
    assert tracker.to_bytes() == data
