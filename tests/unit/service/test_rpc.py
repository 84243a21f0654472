"""The JSON-RPC core: framing, strict parsing, replies, and what bad input raises."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.chat.errors import RecordNotFound
from veil.errors import VeilError
from veil.service.errors import (
    FrameTooLarge,
    InvalidParams,
    InvalidRequest,
    MalformedFrame,
    UnknownMethod,
)
from veil.service.rpc import (
    MAX_FRAME,
    LineFramer,
    Notification,
    Reply,
    error_frame,
    notification_frame,
    parse_message,
    parse_request,
    request_id_of,
    result_frame,
)
from veil.service.schema import parse_call


def test_the_framer_splits_lines_across_reads_and_keeps_the_rest() -> None:
    framer = LineFramer()
    assert framer.feed(b'{"a":1}\n{"b"') == [b'{"a":1}']
    assert framer.feed(b":2}\n\n") == [b'{"b":2}', b""]


def test_the_framer_refuses_a_frame_over_the_cap_even_without_its_line_end() -> None:
    framer = LineFramer(limit=10)
    with pytest.raises(FrameTooLarge):
        framer.feed(b"x" * 11)
    with pytest.raises(FrameTooLarge):
        LineFramer(limit=10).feed(b"y" * 11 + b"\n")
    assert LineFramer(limit=10).feed(b"z" * 10 + b"\n") == [b"z" * 10]


def test_a_request_parses_with_named_params() -> None:
    request = parse_request(b'{"jsonrpc":"2.0","id":7,"method":"contacts","params":{}}')
    assert (request.id, request.method, request.params) == (7, "contacts", {})
    assert parse_request(b'{"jsonrpc":"2.0","method":"invite"}').id is None


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (b"{not json", MalformedFrame),
        (b"\xff\xfe", MalformedFrame),
        (b'{"jsonrpc":"2.0","method":"x","params":{"a":NaN}}', MalformedFrame),
        (b'{"jsonrpc":"2.0","method":"x","method":"y"}', MalformedFrame),
        (b"[" * 100_000 + b"]" * 100_000, MalformedFrame),
        (b'[{"jsonrpc":"2.0","method":"x"}]', InvalidRequest),
        (b'{"jsonrpc":"1.0","method":"x"}', InvalidRequest),
        (b'{"jsonrpc":"2.0","id":true,"method":"x"}', InvalidRequest),
        (b'{"jsonrpc":"2.0","id":[1],"method":"x"}', InvalidRequest),
        (b'{"jsonrpc":"2.0","method":5}', InvalidRequest),
        (b'{"jsonrpc":"2.0","method":"x","extra":1}', InvalidRequest),
        (b'{"jsonrpc":"2.0","method":"x","params":[1,2]}', InvalidParams),
        (b" " * (MAX_FRAME + 1), FrameTooLarge),
    ],
)
def test_bad_frames_raise_the_matching_protocol_error(frame: bytes, error: type) -> None:
    with pytest.raises(error):
        parse_request(frame)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"contact": 5, "texts": ["hi"]}, "contact"),
        ({"contact": "Bob", "texts": "hi"}, "texts"),
        ({"contact": "Bob", "texts": ["hi"], "reply_to": "3"}, "reply_to"),
        ({"contact": "Bob", "texts": ["hi"], "reply_to": True}, "reply_to"),
        ({"contact": "Bob"}, "texts"),
        ({"contact": "Bob", "texts": ["hi"], "colour": "red"}, "colour"),
        ({"contact": "x" * 70_000, "texts": []}, "contact"),
    ],
)
def test_parameters_are_checked_against_the_method_shape(params: object, field: str) -> None:
    frame = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "send", "params": params})
    with pytest.raises(InvalidParams, match=field):
        parse_call(frame.encode())


def test_an_unknown_method_is_refused() -> None:
    with pytest.raises(UnknownMethod):
        parse_call(b'{"jsonrpc":"2.0","id":1,"method":"format_disk"}')


def test_errors_use_jsonrpc_codes_for_its_faults_and_veil_codes_otherwise() -> None:
    framing = json.loads(error_frame(3, MalformedFrame("bad")))
    assert framing["error"]["code"] == -32700
    assert framing["error"]["data"] == {"code": 951, "kind": "MalformedFrame"}
    assert json.loads(error_frame(4, UnknownMethod("x")))["error"]["code"] == -32601
    missing = json.loads(error_frame("a", RecordNotFound("no contact named 'Zed'")))
    assert missing == {
        "jsonrpc": "2.0",
        "id": "a",
        "error": {
            "code": 626,
            "message": "no contact named 'Zed'",
            "data": {"code": 626, "kind": "RecordNotFound"},
        },
    }
    assert json.loads(error_frame(None, ValueError("already accepted")))["error"]["code"] == 1


def test_what_the_service_sends_parses_back_on_the_client() -> None:
    assert parse_message(result_frame(9, {"link": "x"})) == Reply(9, {"link": "x"}, None)
    error = parse_message(error_frame(9, UnknownMethod("nope")))
    assert isinstance(error, Reply) and error.error is not None
    assert error.error["data"]["kind"] == "UnknownMethod"
    event = parse_message(notification_frame("event", {"seq": 1}))
    assert event == Notification("event", {"seq": 1})
    with pytest.raises(InvalidRequest):
        parse_message(b'{"jsonrpc":"2.0","id":1}')


def test_the_id_of_a_broken_request_is_recovered_when_it_can_be() -> None:
    assert request_id_of(b'{"jsonrpc":"2.0","id":12,"method":3}') == 12
    assert request_id_of(b"{broken") is None
    assert request_id_of(b'{"id":{"x":1}}') is None


@given(st.binary(max_size=4096))
def test_random_bytes_raise_only_veil_errors(data: bytes) -> None:
    for parse in (parse_call, parse_message):
        with contextlib.suppress(VeilError):
            parse(data)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@given(
    st.sampled_from(["send", "history", "verify", "subscribe", "hello", "nope"]),
    st.dictionaries(st.sampled_from(["contact", "texts", "limit", "code", "since"]), _json),
)
def test_random_requests_are_accepted_or_refused_with_a_veil_error(
    method: str, params: dict[str, object]
) -> None:
    frame = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    with contextlib.suppress(VeilError):
        parse_call(frame.encode())
