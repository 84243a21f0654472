"""Group-log transmissions and answers for a client, sans I/O.

Shared by :class:`~veil.relay.client.log_client.GroupLogClient` (direct to the
log's relay) and private routing (a post sealed for the destination relay and
carried by a proxy, :mod:`veil.routing.proxied_sender`).
"""

from __future__ import annotations

from typing import TypeVar

from veil.crypto import RandomSource
from veil.relay.client.session import ClientSession
from veil.relay.protocol import log_commands as lc
from veil.relay.protocol import log_responses as lr
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import UnexpectedResponse, error_for_code
from veil.relay.protocol.queue_crypto import authenticate
from veil.relay.protocol.transmission import (
    CORRELATION_ID_SIZE,
    PUSH_CORRELATION_ID,
    attach_authenticator,
    authorized_part,
)

__all__ = ["log_transmission", "new_correlation_id", "read_log_answer", "read_log_ok"]

_A = TypeVar("_A", bound=lr.LogResponse)
_ERR = bytes((rsp.ErrorResponse.tag,))
_OK = bytes((rsp.Ok.tag,))


def new_correlation_id(rng: RandomSource) -> bytes:
    """A random correlation id, never the all-zero one of pushes."""
    while True:
        correlation_id = rng.random_bytes(CORRELATION_ID_SIZE)
        if correlation_id != PUSH_CORRELATION_ID:
            return correlation_id


def log_transmission(
    session: ClientSession,
    command: lc.LogCommand,
    entity_id: bytes,
    mac_key: bytes,
    correlation_id: bytes,
) -> bytes:
    """One group-log command for ``session``, authenticated with ``mac_key`` (the
    ``derive_auth_key`` of the member's or admin's auth key and the session key)."""
    authorized = authorized_part(correlation_id, entity_id, lc.encode_log_command(command))
    authenticator = authenticate(mac_key, session.session_id, authorized)
    return attach_authenticator(authenticator, authorized)


def _raise_error(body: bytes) -> None:
    if body[:1] == _ERR:
        error = rsp.decode_response(body)
        assert isinstance(error, rsp.ErrorResponse)
        raise error_for_code(error.code)(f"relay answered ERR {error.code}")


def read_log_answer(body: bytes, answer: type[_A]) -> _A:
    """The relay's answer as an ``answer``; its ``ERR`` raised as the error's class,
    :class:`UnexpectedResponse` for anything else."""
    _raise_error(body)
    response = lr.decode_log_response(body)
    if not isinstance(response, answer):
        raise UnexpectedResponse(f"expected {answer.__name__}, got {type(response).__name__}")
    return response


def read_log_ok(body: bytes) -> None:
    """Check the relay answered ``OK``; raise its ``ERR`` otherwise."""
    _raise_error(body)
    if body != _OK:
        raise UnexpectedResponse("expected OK")
