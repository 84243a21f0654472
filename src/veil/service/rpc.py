"""The JSON-RPC 2.0 core of the API, sans I/O: frames in, frames out.

On a stream (the Unix socket) each frame is one line of UTF-8 JSON ending in
``\\n``; on a WebSocket each text message is one frame. Every frame is capped at
:data:`MAX_FRAME` bytes, must be exactly one JSON value (no NaN, no duplicate
keys) and, for a request, a JSON-RPC 2.0 request with named parameters. Batches
are refused. Failures raise the service's protocol errors, which
:func:`error_frame` turns into JSON-RPC errors: the standard codes for framing
faults, the Veil code otherwise, and always ``data: {"code", "kind"}`` with the
Veil code and class name, as the CLI's ``--json`` prints them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from veil.errors import VeilError
from veil.service.errors import (
    FrameTooLarge,
    InvalidParams,
    InvalidRequest,
    MalformedFrame,
    UnknownMethod,
)

__all__ = [
    "MAX_FRAME",
    "JsonObject",
    "LineFramer",
    "Notification",
    "Reply",
    "Request",
    "encode",
    "error_frame",
    "internal_error_frame",
    "notification_frame",
    "parse_message",
    "parse_request",
    "request_id_of",
    "result_frame",
]

#: The largest frame either side accepts, in bytes (a history page fits easily).
MAX_FRAME = 1 << 20
JsonObject = dict[str, Any]
RequestId = int | str | None

#: JSON-RPC's own codes for the faults it defines; other errors carry the Veil code.
_STANDARD_CODES: dict[type[Exception], int] = {
    MalformedFrame: -32700,
    FrameTooLarge: -32600,
    InvalidRequest: -32600,
    UnknownMethod: -32601,
    InvalidParams: -32602,
}


@dataclass(frozen=True, slots=True)
class Request:
    """A call (``id`` set) or a notification (``id`` is ``None``) to the service."""

    id: RequestId
    method: str
    params: JsonObject


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to call ``id``: ``result``, or ``error`` (the JSON-RPC error object)."""

    id: RequestId
    result: Any
    error: JsonObject | None


@dataclass(frozen=True, slots=True)
class Notification:
    """A message from the service nobody asked for (an event)."""

    method: str
    params: JsonObject


class LineFramer:
    """Splits a byte stream into ``\\n``-terminated frames of at most :data:`MAX_FRAME`."""

    __slots__ = ("_buffer", "_limit")

    def __init__(self, limit: int = MAX_FRAME) -> None:
        self._buffer = bytearray()
        self._limit = limit

    def feed(self, data: bytes) -> list[bytes]:
        """Take ``data``; return the frames it completes. :class:`FrameTooLarge` if a
        frame grows past the cap (the stream cannot be trusted after that)."""
        self._buffer += data
        frames = []
        while (end := self._buffer.find(b"\n")) >= 0:
            frame = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            self._check(len(frame))
            frames.append(frame)
        self._check(len(self._buffer))
        return frames

    def _check(self, size: int) -> None:
        if size > self._limit:
            self._buffer.clear()
            raise FrameTooLarge(f"a frame is over {self._limit} bytes; send smaller requests")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> JsonObject:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise MalformedFrame("a JSON object repeats a key")
    return obj


def _reject_constant(name: str) -> None:
    raise MalformedFrame(f"{name} is not JSON")


def decode(frame: bytes) -> Any:
    """Parse one frame as strict JSON; :class:`MalformedFrame` if it is not."""
    if len(frame) > MAX_FRAME:
        raise FrameTooLarge(f"a frame is over {MAX_FRAME} bytes; send smaller requests")
    try:
        return json.loads(
            frame.decode("utf-8"),
            object_pairs_hook=_reject_duplicates,
            parse_constant=_reject_constant,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedFrame(f"a frame is not valid JSON ({type(exc).__name__})") from exc


def _object(frame: bytes) -> JsonObject:
    value = decode(frame)
    if isinstance(value, list):
        raise InvalidRequest("batches are not supported: send one request per frame")
    if not isinstance(value, dict) or value.get("jsonrpc") != "2.0":
        raise InvalidRequest('a request is an object with "jsonrpc": "2.0"')
    return value


def _request_id(message: JsonObject) -> RequestId:
    value = message.get("id")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | str)):
        raise InvalidRequest("an id is a string, an integer or absent")
    return value


def parse_request(frame: bytes) -> Request:
    """Parse a request frame (what the service reads)."""
    message = _object(frame)
    request_id = _request_id(message)
    method, params = message.get("method"), message.get("params", {})
    if not isinstance(method, str) or set(message) - {"jsonrpc", "id", "method", "params"}:
        raise InvalidRequest("a request has a method name and only jsonrpc, id and params")
    if not isinstance(params, dict):
        raise InvalidParams("parameters are passed by name, as an object")
    return Request(request_id, method, params)


def request_id_of(frame: bytes) -> RequestId:
    """The id of a request frame, if one can be read (so an error can name it)."""
    try:
        value = json.loads(frame)
        return _request_id(value) if isinstance(value, dict) else None
    except (ValueError, RecursionError, InvalidRequest):
        return None


def parse_message(frame: bytes) -> Reply | Notification:
    """Parse what the service sends (what a client reads)."""
    message = _object(frame)
    if "method" in message:
        params = message.get("params", {})
        if not isinstance(message["method"], str) or not isinstance(params, dict):
            raise InvalidRequest("a notification has a method name and object params")
        return Notification(message["method"], params)
    error = message.get("error")
    if error is not None and not (
        isinstance(error, dict) and isinstance(error.get("message"), str)
    ):
        raise InvalidRequest("an error is an object with a message")
    if error is None and "result" not in message:
        raise InvalidRequest("a reply has a result or an error")
    return Reply(_request_id(message), message.get("result"), error)


def encode(message: JsonObject) -> bytes:
    """One frame, without the stream's line end."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def result_frame(request_id: RequestId, result: Any) -> bytes:
    """The frame answering ``request_id`` with ``result``."""
    return encode({"jsonrpc": "2.0", "id": request_id, "result": result})


def error_frame(request_id: RequestId, error: Exception) -> bytes:
    """The frame answering ``request_id`` with ``error``: a Veil error keeps its code;
    a ``ValueError`` (a request that makes no sense now) gets code 1, as in the CLI."""
    veil_code = error.code if isinstance(error, VeilError) else 1
    code = _STANDARD_CODES.get(type(error), veil_code)
    data = {"code": veil_code, "kind": type(error).__name__}
    body = {"code": code, "message": str(error), "data": data}
    return encode({"jsonrpc": "2.0", "id": request_id, "error": body})


def internal_error_frame(request_id: RequestId) -> bytes:
    """The frame answering ``request_id`` when the service itself failed."""
    data = {"code": 900, "kind": "InternalError"}
    body = {"code": -32603, "message": "the service failed; its log says why", "data": data}
    return encode({"jsonrpc": "2.0", "id": request_id, "error": body})


def notification_frame(method: str, params: JsonObject) -> bytes:
    """A notification frame (an event to a subscriber)."""
    return encode({"jsonrpc": "2.0", "method": method, "params": params})
