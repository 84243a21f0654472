"""Fuzzing every MLS decoder: mutated IETF structures and random bytes may only raise
MLS protocol errors, and whatever decodes re-encodes to the same bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.mls_vectors import cases
from veil.mls.codec import Writer, decode
from veil.mls.errors import CorruptGroupState, MLSProtocolError
from veil.mls.framing import MLSMessage
from veil.mls.fuzzing import MLS_DECODERS

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
    writer = Writer()
    message.encode(writer)
    assert writer.build() == mutated
