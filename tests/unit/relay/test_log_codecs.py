"""Group-log command and answer codecs and credentials: byte tables, strictness, fuzzing."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.crypto import AuthenticationFailed, DeterministicRandom, X25519KeyPair
from veil.relay.client.log_events import LogAdmin, LogReader, LogWriter
from veil.relay.protocol import log_commands as lc
from veil.relay.protocol.errors import (
    BadCommand,
    InvalidLogCredentials,
    MessageTooLarge,
    RelayError,
    UnexpectedResponse,
    UnknownCommand,
)
from veil.relay.protocol.log_crypto import (
    entry_frame,
    open_at_rest,
    open_entry,
    seal_at_rest,
    seal_for_reader,
)

KEY_A = bytes(range(32))
KEY_B = bytes(range(32, 64))
ID_A = b"\xaa" * 24
SEQ = (7).to_bytes(8, "big")

COMMAND_TABLE: list[tuple[lc.LogCommand, bytes]] = [
    (lc.CreateLog(KEY_A), b"\x30" + KEY_A + b"\x00"),
    (lc.CreateLog(KEY_A, b"pw"), b"\x30" + KEY_A + b"\x02pw"),
    (lc.AddReader(KEY_A, KEY_B), b"\x31" + KEY_A + KEY_B),
    (lc.RemoveReader(ID_A), b"\x32" + ID_A),
    (lc.AddWriter(KEY_A), b"\x33" + KEY_A),
    (lc.RemoveWriter(ID_A), b"\x34" + ID_A),
    (lc.DeleteLog(), b"\x35"),
    (lc.PostEntry(b"hi"), b"\x36\x00\x02hi"),
    (lc.SubscribeLog(9), b"\x37\x09"),
    (lc.AcknowledgeEntries(7), b"\x38" + SEQ),
]

RESPONSE_TABLE: list[tuple[lc.LogResponse, bytes]] = [
    (lc.LogCreated(ID_A), b"\xb0" + ID_A),
    (lc.ReaderAdded(ID_A, KEY_A, 7), b"\xb1" + ID_A + KEY_A + SEQ),
    (lc.WriterAdded(ID_A), b"\xb2" + ID_A),
    (lc.EntryPosted(7), b"\xb3" + SEQ),
    (lc.SubscriptionPosition(7, 7), b"\xb4" + SEQ + SEQ),
    (lc.EntryDelivered(7, b"n" * 12, b"sealed"), b"\xb5" + SEQ + b"n" * 12 + b"\x00\x06sealed"),
    (lc.LogSubscriptionEnded(lc.EndReason.REMOVED), b"\xb6\x02"),
]


@pytest.mark.parametrize(("command", "encoded"), COMMAND_TABLE)
def test_command_table(command: lc.LogCommand, encoded: bytes) -> None:
    assert lc.encode_log_command(command) == encoded
    assert lc.decode_log_command(encoded) == command
    with pytest.raises(BadCommand):
        lc.decode_log_command(encoded + b"\x00")  # no trailing bytes
    if len(encoded) > 1:
        with pytest.raises(BadCommand):
            lc.decode_log_command(encoded[:-1])


@pytest.mark.parametrize(("response", "encoded"), RESPONSE_TABLE)
def test_response_table(response: lc.LogResponse, encoded: bytes) -> None:
    assert lc.encode_log_response(response) == encoded
    assert lc.decode_log_response(encoded) == response
    with pytest.raises(UnexpectedResponse):
        lc.decode_log_response(encoded + b"\x00")
    with pytest.raises(UnexpectedResponse):
        lc.decode_log_response(encoded[:-1])


def test_caps_and_unknown_values() -> None:
    with pytest.raises(MessageTooLarge):
        lc.decode_log_command(b"\x36" + (16_001).to_bytes(2, "big") + bytes(16_001))
    with pytest.raises(UnknownCommand):
        lc.decode_log_command(b"\x3f")
    with pytest.raises(BadCommand):
        lc.decode_log_command(b"\x37\x00")  # window zero
    with pytest.raises(UnexpectedResponse):
        lc.decode_log_response(b"\xb6\x04")  # unknown LEND reason
    oversized = lc.MAX_SEALED_ENTRY + 1
    with pytest.raises(UnexpectedResponse):
        lc.decode_log_response(
            b"\xb5" + SEQ + bytes(12) + oversized.to_bytes(2, "big") + bytes(oversized)
        )


@given(st.binary(max_size=200))
def test_random_commands_and_answers_raise_only_relay_errors(data: bytes) -> None:
    for decode in (lc.decode_log_command, lc.decode_log_response):
        with contextlib.suppress(RelayError):
            decode(bytes((0x30 + data[0] % 16,)) + data[1:] if data else data)
        with contextlib.suppress(RelayError):
            decode(bytes((0xB0 + data[0] % 16,)) + data[1:] if data else data)


@given(st.binary(max_size=16_000), st.integers(0, 2**64 - 1))
def test_post_and_delivery_round_trip(body: bytes, seq: int) -> None:
    assert lc.decode_log_command(lc.encode_log_command(lc.PostEntry(body))) == lc.PostEntry(body)
    delivered = lc.EntryDelivered(seq, bytes(12), body)
    assert lc.decode_log_response(lc.encode_log_response(delivered)) == delivered


def test_sealing_binds_key_entity_and_place() -> None:
    rng = DeterministicRandom(b"seal")
    frame = entry_frame(3600, b"body")
    stored = seal_at_rest(KEY_A, ID_A, 7, frame, rng)
    assert open_at_rest(KEY_A, ID_A, 7, stored) == frame
    with pytest.raises(AuthenticationFailed):
        open_at_rest(KEY_A, ID_A, 8, stored)
    nonce, sealed = seal_for_reader(KEY_B, ID_A, 7, frame, rng)
    assert open_entry(KEY_B, ID_A, 7, nonce, sealed).body == b"body"
    again = seal_for_reader(KEY_B, ID_A, 7, frame, rng)
    assert again[1] != sealed  # a fresh nonce per delivery
    with pytest.raises(AuthenticationFailed):
        open_entry(KEY_B, b"\xbb" * 24, 7, nonce, sealed)


def test_credentials_round_trip_and_reject_wrong_sizes() -> None:
    auth = X25519KeyPair(KEY_A)
    admin, writer = LogAdmin(ID_A, auth), LogWriter(ID_A, auth)
    reader = LogReader(ID_A, auth, KEY_B)
    assert LogAdmin.decode(admin.encode()).auth.public == auth.public
    assert LogWriter.decode(writer.encode()).writer_id == ID_A
    assert LogReader.decode(reader.encode()).delivery_key == KEY_B
    for decode, size in ((LogAdmin.decode, 56), (LogWriter.decode, 56), (LogReader.decode, 88)):
        with pytest.raises(InvalidLogCredentials):
            decode(bytes(size + 1))
