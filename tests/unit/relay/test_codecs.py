"""Transmission, command and response codecs: byte tables, strictness, fuzzing."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import (
    BadCommand,
    MalformedTransmission,
    MessageTooLarge,
    RelayError,
    UnexpectedResponse,
    UnknownCommand,
)
from veil.relay.protocol.transmission import (
    decode_client_transmission,
    decode_transmission,
    encode_reply,
    encode_transmission,
)

KEY_A = bytes(range(32))
KEY_B = bytes(range(32, 64))
ID_A = b"\xaa" * 24
ID_B = b"\xbb" * 24

COMMAND_TABLE: list[tuple[cmd.Command, bytes]] = [
    (cmd.CreateQueue(KEY_A, KEY_B), b"\x01" + KEY_A + KEY_B + b"\x00"),
    (cmd.CreateQueue(KEY_A, KEY_B, b"pw"), b"\x01" + KEY_A + KEY_B + b"\x02pw"),
    (cmd.SecureQueue(KEY_A), b"\x02" + KEY_A),
    (cmd.SenderSecureQueue(KEY_B), b"\x03" + KEY_B),
    (cmd.Subscribe(), b"\x04"),
    (cmd.SendMessage(0, b"hi"), b"\x05\x00\x00\x02hi"),
    (cmd.SendMessage(cmd.FLAG_NOTIFY, b""), b"\x05\x01\x00\x00"),
    (cmd.Acknowledge(ID_A), b"\x06" + ID_A),
    (cmd.GetMessage(), b"\x07"),
    (cmd.SuspendQueue(), b"\x08"),
    (cmd.DeleteQueue(), b"\x09"),
    (cmd.Ping(), b"\x0a"),
]

RESPONSE_TABLE: list[tuple[rsp.Response, bytes]] = [
    (rsp.QueueIds(ID_A, ID_B, KEY_A), b"\x81" + ID_A + ID_B + KEY_A),
    (rsp.Ok(), b"\x82"),
    (rsp.SubscriptionEnded(), b"\x83"),
    (rsp.Message(ID_A, b"sealed"), b"\x84" + ID_A + b"\x00\x06sealed"),
    (rsp.Pong(), b"\x85"),
    (rsp.ErrorResponse(413), b"\x86\x01\x9d"),
]


@pytest.mark.parametrize(("command", "encoded"), COMMAND_TABLE)
def test_command_table(command: cmd.Command, encoded: bytes) -> None:
    assert cmd.encode_command(command) == encoded
    assert cmd.decode_command(encoded) == command
    with pytest.raises(BadCommand):
        cmd.decode_command(encoded + b"\x00")
    if len(encoded) > 1:
        with pytest.raises(BadCommand):
            cmd.decode_command(encoded[:-1])


@pytest.mark.parametrize(("response", "encoded"), RESPONSE_TABLE)
def test_response_table(response: rsp.Response, encoded: bytes) -> None:
    assert rsp.encode_response(response) == encoded
    assert rsp.decode_response(encoded) == response
    with pytest.raises(UnexpectedResponse):
        rsp.decode_response(encoded + b"\x00")
    if len(encoded) > 1:
        with pytest.raises(UnexpectedResponse):
            rsp.decode_response(encoded[:-1])


def test_commands_and_responses_do_not_share_tags() -> None:
    with pytest.raises(UnknownCommand):
        cmd.decode_command(b"\x82")
    with pytest.raises(UnexpectedResponse):
        rsp.decode_response(b"\x04")


def test_send_body_cap() -> None:
    largest = cmd.SendMessage(0, b"x" * cmd.MAX_MESSAGE_BODY)
    assert cmd.decode_command(cmd.encode_command(largest)) == largest
    too_big = b"\x05\x00" + (cmd.MAX_MESSAGE_BODY + 1).to_bytes(2, "big")
    with pytest.raises(MessageTooLarge):
        cmd.decode_command(too_big + bytes(cmd.MAX_MESSAGE_BODY + 1))


def test_transmission_layout_byte_by_byte() -> None:
    encoded = encode_transmission(KEY_A, ID_A, ID_B, b"\x04")
    assert encoded == b"\x20" + KEY_A + ID_A + b"\x18" + ID_B + b"\x04"
    decoded = decode_transmission(encoded)
    assert (decoded.authenticator, decoded.correlation_id) == (KEY_A, ID_A)
    assert (decoded.entity_id, decoded.body) == (ID_B, b"\x04")
    assert decoded.authorized == encoded[33:]
    bare = encode_transmission(b"", ID_A, b"", b"\x0a")
    assert bare == b"\x00" + ID_A + b"\x00\x0a"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x20" + KEY_A[:31],  # truncated authenticator
        b"\x10" + bytes(16) + ID_A + b"\x00\x04",  # 16-byte authenticator
        b"\x00" + ID_A[:23],  # truncated correlation id
        b"\x00" + ID_A + b"\x19" + bytes(25) + b"\x04",  # entity id over the cap
        b"\x00" + ID_A + b"\x05" + bytes(5) + b"\x04",  # entity id of odd size
        b"\x00" + ID_A + b"\x00",  # no command
    ],
)
def test_malformed_transmissions(data: bytes) -> None:
    with pytest.raises(MalformedTransmission):
        decode_transmission(data)


commands = st.one_of(
    st.builds(
        cmd.CreateQueue,
        st.binary(min_size=32, max_size=32),
        st.binary(min_size=32, max_size=32),
        st.binary(max_size=255),
    ),
    st.builds(cmd.SecureQueue, st.binary(min_size=32, max_size=32)),
    st.builds(cmd.SenderSecureQueue, st.binary(min_size=32, max_size=32)),
    st.builds(cmd.SendMessage, st.sampled_from([0, 1]), st.binary(max_size=2000)),
    st.builds(cmd.Acknowledge, st.binary(min_size=24, max_size=24)),
    st.sampled_from(
        [cmd.Subscribe(), cmd.GetMessage(), cmd.SuspendQueue(), cmd.DeleteQueue(), cmd.Ping()]
    ),
)


@given(commands)
def test_command_round_trip(command: cmd.Command) -> None:
    assert cmd.decode_command(cmd.encode_command(command)) == command


@given(
    st.sampled_from([b"", KEY_A]),
    st.binary(min_size=24, max_size=24),
    st.sampled_from([b"", ID_B]),
    st.binary(min_size=1, max_size=300),
)
def test_transmission_round_trip(
    authenticator: bytes, correlation_id: bytes, entity_id: bytes, body: bytes
) -> None:
    decoded = decode_transmission(
        encode_transmission(authenticator, correlation_id, entity_id, body)
    )
    assert (decoded.authenticator, decoded.correlation_id) == (authenticator, correlation_id)
    assert (decoded.entity_id, decoded.body) == (entity_id, body)


@given(st.binary(max_size=400))
def test_fuzz_parsers_raise_only_relay_errors(data: bytes) -> None:
    for parse in (decode_transmission, cmd.decode_command, rsp.decode_response):
        with contextlib.suppress(RelayError):
            parse(data)


def test_reply_encoding_matches_the_general_encoder() -> None:
    assert encode_reply(ID_A, ID_B, b"\x82") == encode_transmission(b"", ID_A, ID_B, b"\x82")
    assert encode_reply(ID_A, b"", b"\x85") == encode_transmission(b"", ID_A, b"", b"\x85")


def test_clients_may_not_use_the_push_correlation_id() -> None:
    with pytest.raises(MalformedTransmission):
        decode_client_transmission(encode_transmission(b"", bytes(24), b"", b"\x0a"))
    assert decode_client_transmission(encode_transmission(b"", ID_A, b"", b"\x0a")).body == b"\x0a"
