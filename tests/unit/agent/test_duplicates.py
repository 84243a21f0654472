"""What each receive queue remembers of committed frames, and its persisted forms."""

from __future__ import annotations

import contextlib
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.agent.address import AddressState
from veil.agent.duplicates import FRAME_DIGEST_SIZE, REMEMBERED_FRAMES, CommittedFrames
from veil.agent.errors import ConnectionStateCorrupt
from veil.agent.queues import ReceiveQueue
from veil.crypto import DeterministicRandom, sha256
from veil.wire import Reader, WireError, Writer

RELAY = "veil://" + "A" * 43 + "@relay.example"
MESSAGE_ID = b"\x11" * 24


def _encoded(frames: CommittedFrames) -> bytes:
    writer = Writer()
    frames.encode(writer)
    return writer.build()


def _decoded(data: bytes) -> CommittedFrames:
    reader = Reader(data)
    frames = CommittedFrames.decode(reader)
    reader.finish()
    return frames


def test_a_frame_is_recognised_by_its_bytes_whatever_its_relay_id() -> None:
    frames = CommittedFrames().with_frame(b"frame")
    assert frames.marks == (sha256(b"frame"),)
    assert frames.holds(MESSAGE_ID, b"frame")
    assert frames.holds(b"\x22" * 24, b"frame")
    assert not frames.holds(MESSAGE_ID, b"other frame")


def test_message_ids_carried_over_recognise_their_redelivery_and_age_out_first() -> None:
    frames = CommittedFrames.from_message_ids([MESSAGE_ID])
    assert frames.holds(MESSAGE_ID, b"a frame committed before the upgrade")
    for number in range(REMEMBERED_FRAMES):
        frames = frames.with_frame(b"%d" % number)
    assert not frames.holds(MESSAGE_ID, b"a frame committed before the upgrade")
    assert frames.holds(MESSAGE_ID, b"0")


def test_encoding_is_a_count_then_length_prefixed_marks() -> None:
    frames = CommittedFrames((MESSAGE_ID, b"\x33" * FRAME_DIGEST_SIZE))
    data = _encoded(frames)
    assert data == b"\x02" + b"\x18" + MESSAGE_ID + b"\x20" + b"\x33" * 32
    assert _decoded(data) == frames


@pytest.mark.parametrize(
    "damaged",
    [
        bytes([REMEMBERED_FRAMES + 1]) + (b"\x20" + bytes(32)) * (REMEMBERED_FRAMES + 1),
        b"\x01\x10" + bytes(16),  # neither a digest nor a relay message id
        b"\x01\x21" + bytes(33),  # over the cap
    ],
)
def test_out_of_bounds_marks_are_rejected(damaged: bytes) -> None:
    # The codec's own faults are WireError; the state that embeds the marks reports
    # both as ConnectionStateCorrupt.
    with pytest.raises((ConnectionStateCorrupt, WireError)):
        _decoded(damaged)


@given(st.binary(max_size=200))
def test_random_bytes_never_raise_anything_but_clean_errors(data: bytes) -> None:
    with contextlib.suppress(ConnectionStateCorrupt, WireError):
        _decoded(data)


def _address_state() -> AddressState:
    receive = ReceiveQueue(RELAY, bytes(24), bytes(range(24)), *[bytes(32)] * 3)
    return AddressState.create(receive, DeterministicRandom(b"address"))


def test_address_state_remembers_committed_requests() -> None:
    state = _address_state().with_delivery(b"request")
    assert state.delivered.holds(MESSAGE_ID, b"request")
    assert AddressState.from_bytes(state.to_bytes()) == state


def test_address_state_version_1_still_reads_with_nothing_committed() -> None:
    state = _address_state()
    assert state.kem_seed is not None
    # Version 1 ended at the address key; version 2 had no ML-KEM key.
    version_1 = b"\x01" + state.to_bytes()[1 : -(2 + len(state.kem_seed))]
    assert AddressState.from_bytes(version_1) == replace(state, kem_seed=None)
    version_2 = b"\x02" + state.to_bytes()[1 : -(1 + len(state.kem_seed))]
    assert AddressState.from_bytes(version_2) == replace(state, kem_seed=None)
    bad_flag = state.to_bytes()[: -(1 + len(state.kem_seed))] + b"\x02" + state.kem_seed
    for damaged in (
        b"\x04" + version_1[1:],
        version_1 + b"\x00",
        state.to_bytes() + b"\x00",
        bad_flag,
    ):
        with pytest.raises(ConnectionStateCorrupt):
            AddressState.from_bytes(damaged)
