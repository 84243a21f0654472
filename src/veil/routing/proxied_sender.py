"""The client side of private routing, sans I/O: transmissions to a proxy and their replies.

On a connection to the proxy relay (after the usual hellos) the client

1. sends :func:`proxy_request` and reads the answer with
   :func:`read_proxy_key`, which proves the destination (or raises);
2. builds sender commands with a :class:`ProxiedSender` for that destination: each
   is the ordinary relay command for the proxy's session at the destination,
   sealed in a ``PFWD``; :meth:`Forward.read_reply` turns the proxy's answer back
   into the destination's relay response.

The caller routes a reply to the right :class:`Forward` by its correlation id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from veil.crypto import RandomSource, X25519KeyPair
from veil.relay.client.file_uploads import require_files
from veil.relay.client.log_wire import log_transmission, new_correlation_id
from veil.relay.client.session import ClientSession
from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.address import RelayAddress
from veil.relay.protocol.errors import LogsUnsupported, UnexpectedResponse, error_for_code
from veil.relay.protocol.log_commands import LOG_VERSION, MAX_ENTRY_BODY, PostEntry
from veil.relay.protocol.queue_crypto import derive_auth_key
from veil.relay.protocol.transmission import (
    CORRELATION_ID_SIZE,
    PUSH_CORRELATION_ID,
    decode_transmission,
    encode_transmission,
)
from veil.routing.codec import (
    ROUTING_VERSIONS,
    ProxyKey,
    ProxyRequest,
    ProxyResponse,
    RoutingResponse,
    decode_routing_response,
    encode_routing_command,
)
from veil.routing.errors import MalformedRoutingCommand, routing_error_for_code
from veil.routing.forward_crypto import PendingCommand, ProxiedDestination

__all__ = ["Forward", "ProxiedSender", "proxy_request", "read_proxy_key"]


def _correlation_id(rng: RandomSource) -> bytes:
    while True:
        correlation_id = rng.random_bytes(CORRELATION_ID_SIZE)
        if correlation_id != PUSH_CORRELATION_ID:
            return correlation_id


def proxy_request(destination: RelayAddress, rng: RandomSource) -> tuple[bytes, bytes]:
    """A ``PRXY`` for ``destination``; returns ``(correlation_id, transmission)``."""
    correlation_id = _correlation_id(rng)
    body = encode_routing_command(ProxyRequest(ROUTING_VERSIONS, destination))
    return correlation_id, encode_transmission(b"", correlation_id, b"", body)


def _raise_error(code: int) -> NoReturn:
    routing_error = routing_error_for_code(code)
    if routing_error is not None:
        raise routing_error(f"proxy answered ERR {code}")
    raise error_for_code(code)(f"proxy answered ERR {code}")


def _routing_response(body: bytes) -> RoutingResponse:
    """A proxy's answer: a routing response, or ``ERR`` raised as its error class."""
    if body[:1] == bytes((cmd.Tag.ERR,)):
        error = rsp.decode_response(body)
        if isinstance(error, rsp.ErrorResponse):
            _raise_error(error.code)
    return decode_routing_response(body)


def read_proxy_key(body: bytes, destination: RelayAddress) -> ProxiedDestination:
    """Read the answer to :func:`proxy_request` and prove the destination through it.

    ``body`` is the reply transmission's body. Raises the error class of an ``ERR``
    (e.g. :class:`~veil.routing.errors.DestinationUnreachable`), or one of
    :class:`~veil.routing.errors.DestinationNotVerified`'s family if the proxy
    could not prove it reached ``destination``.
    """
    response = _routing_response(body)
    if not isinstance(response, ProxyKey):
        raise MalformedRoutingCommand(f"expected PKEY, got {response.tag.name}")
    return ProxiedDestination.verify(destination, response)


@dataclass(frozen=True, slots=True)
class Forward:
    """One sender command on its way through the proxy."""

    correlation_id: bytes
    """Of the ``PFWD`` transmission: the proxy's answer carries the same one."""
    transmission: bytes
    """The ``PFWD`` transmission to send on the proxy connection."""
    inner_correlation_id: bytes
    pending: PendingCommand

    def read_reply(self, body: bytes) -> rsp.Response:
        """Return the destination's response (``OK``, ``ERR``, ...) to this command.

        ``body`` is the proxy's reply body. A proxy ``ERR`` (for example 480, the
        destination is unreachable) is raised as its error class; a reply that does
        not open or does not answer this command raises
        :class:`~veil.routing.errors.ForwardRejected` or :class:`UnexpectedResponse`.
        """
        return rsp.decode_response(self.read_reply_body(body))

    def read_reply_body(self, body: bytes) -> bytes:
        """Like :meth:`read_reply`, but return the destination's response still encoded
        (a group-log answer, which :mod:`veil.relay.client.log_wire` reads)."""
        response = _routing_response(body)
        if not isinstance(response, ProxyResponse):
            raise MalformedRoutingCommand(f"expected PRES, got {response.tag.name}")
        inner = decode_transmission(self.pending.open_response(response))
        if inner.correlation_id != self.inner_correlation_id or inner.authenticator:
            raise UnexpectedResponse("destination response does not answer this command")
        return inner.body


class ProxiedSender:
    """Builds sender commands for one destination reached through one proxy."""

    __slots__ = ("_rng", "_session", "destination")

    def __init__(self, destination: ProxiedDestination, rng: RandomSource) -> None:
        self.destination = destination
        self._rng = rng
        # Commands are authenticated for the proxy's session at the destination.
        self._session = ClientSession(
            destination.session_id, destination.session_key, destination.relay_version, rng
        )

    def sender_secure(self, sender_id: bytes, sender_auth: X25519KeyPair) -> Forward:
        """``SKEY`` through the proxy."""
        return self._forward(self._session.sender_secure(sender_id, sender_auth))

    def send(
        self, sender_id: bytes, sender_auth: X25519KeyPair, body: bytes, flags: int = 0
    ) -> Forward:
        """``SEND`` through the proxy."""
        return self._forward(self._session.send(sender_id, sender_auth, body, flags))

    def post(self, writer_id: bytes, writer_auth: X25519KeyPair, body: bytes) -> Forward:
        """``LPOST`` to a group log at the destination through the proxy."""
        if self._session.version < LOG_VERSION:
            raise LogsUnsupported("the destination relay has no group logs (version < 4)")
        if len(body) > MAX_ENTRY_BODY:
            raise ValueError(f"entry body exceeds {MAX_ENTRY_BODY} bytes")
        correlation_id = new_correlation_id(self._rng)
        mac_key = derive_auth_key(writer_auth, self._session.relay_session_key)
        command = PostEntry(body)
        transmission = log_transmission(self._session, command, writer_id, mac_key, correlation_id)
        return self._forward((correlation_id, transmission))

    def ping(self) -> Forward:
        """``PING`` the destination through the proxy (checks the whole path)."""
        return self._forward(self._session.ping())

    def encoded(self, body: bytes, entity_id: bytes, auth: X25519KeyPair) -> Forward:
        """A command encoded elsewhere (a file upload command) through the proxy."""
        require_files(self._session)
        return self._forward(self._session.encoded(body, entity_id=entity_id, auth=auth))

    def _forward(self, inner: tuple[bytes, bytes]) -> Forward:
        inner_correlation_id, inner_transmission = inner
        sealed, pending = self.destination.seal_command(inner_transmission, self._rng)
        correlation_id = _correlation_id(self._rng)
        transmission = encode_transmission(
            b"", correlation_id, self.destination.proxy_session_id, encode_routing_command(sealed)
        )
        return Forward(correlation_id, transmission, inner_correlation_id, pending)
