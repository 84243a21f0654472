"""Fuzzing every MLS decoder and the message processor: mutated IETF structures, random
bytes and mutated live messages may only raise MLS protocol errors; whatever decodes
re-encodes to the same bytes, and a rejected message changes nothing."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.mls_checks_messages import without_wire
from helpers.mls_groups import Harness
from helpers.mls_vectors import cases
from veil.mls.codec import TlsWriter, decode
from veil.mls.errors import CorruptGroupState, MLSProtocolError
from veil.mls.framing import MLSMessage
from veil.mls.fuzzing import MLS_DECODERS
from veil.mls.group_state import GroupState
from veil.mls.operations import create_commit, encrypt_application
from veil.mls.processing import process_message
from veil.mls.proposals import Remove
from veil.mls.state_codec import encode_state
from veil.mls.suites import suite_by_id

_SEED_FIELDS = (
    "mls_welcome",
    "mls_group_info",
    "mls_key_package",
    "public_message_commit",
    "private_message",
)


def _seeds() -> list[bytes]:
    first = cases("messages.json")[0]
    return [bytes.fromhex(first[field]) for field in _SEED_FIELDS]


@pytest.mark.parametrize(("name", "parse"), MLS_DECODERS, ids=[n for n, _ in MLS_DECODERS])
@given(data=st.binary(max_size=512))
def test_random_bytes_raise_only_mls_protocol_errors(name: str, parse: object, data: bytes) -> None:
    assert callable(parse), name
    try:
        parse(data)
    except (MLSProtocolError, CorruptGroupState):
        return


@settings(max_examples=300)
@given(st.data())
def test_mutated_messages_are_rejected_cleanly_or_re_encode_exactly(data: st.DataObject) -> None:
    seed = bytearray(data.draw(st.sampled_from(_seeds())))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(seed) - 1))
        seed[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(seed)))
    mutated = bytes(seed[:cut])
    try:
        message = decode(mutated, MLSMessage.decode)
    except MLSProtocolError:
        return
    writer = TlsWriter()
    without_wire(message).encode(writer)
    assert writer.build() == mutated


def _live_messages() -> tuple[GroupState, list[bytes]]:
    group = Harness.start(suite_by_id(1), b"fuzz-processing")
    group.commit("m0", (), new=2)
    receiver = group.members["m2"]
    application, _ = encrypt_application(group.members["m0"], b"payload", group.rng)
    commit = create_commit(group.members["m1"], group.rng, by_value=(Remove(0),))
    private_commit = create_commit(group.members["m1"], group.rng, private=True)
    messages = [application, commit.message, private_commit.message]
    return receiver, [message.to_bytes() for message in messages]


RECEIVER, LIVE = _live_messages()


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_live_messages_are_rejected_cleanly_and_change_nothing(data: st.DataObject) -> None:
    seed = bytearray(data.draw(st.sampled_from(LIVE)))
    for _ in range(data.draw(st.integers(1, 3))):
        seed[data.draw(st.integers(0, len(seed) - 1))] = data.draw(st.integers(0, 255))
    before = encode_state(RECEIVER)
    with contextlib.suppress(MLSProtocolError):
        process_message(RECEIVER, decode(bytes(seed), MLSMessage.decode))
    assert encode_state(RECEIVER) == before
