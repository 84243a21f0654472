"""Private routing at the relay: dispatch of the routing commands, and the destination role.

Routing commands (tags 0x10-0x1F, ``docs/protocol/routing.md``) arrive in the same
blocks as queue commands. :class:`RoutingRoles` takes them over from the queue
protocol:

* ``RFWD`` (this relay is the destination): open the forward with the session's
  :class:`~veil.routing.ForwardReceiver`, run the client's inner transmission
  through :class:`~veil.relay.protocol.RelayProtocol` exactly like a direct one
  (same authenticator check against this session, same store commit), but only if
  it is a sender command (``SKEY``, ``SEND``, ``PING``); its answer is sealed back
  into an ``RRES``.
* ``PRXY`` and ``PFWD`` (this relay is the proxy) go to
  :class:`veil.relay.proxy.RelayProxy`, which does the network half.

Sans I/O: nothing here touches sockets or the event loop.
"""

from __future__ import annotations

from collections.abc import Callable

from veil.relay import commands as cmd
from veil.relay.errors import CommandProhibited, RelayError
from veil.relay.protocol import RelayProtocol, Step
from veil.relay.session_state import SessionState
from veil.relay.transmission import Transmission, decode_client_transmission, encode_reply
from veil.routing.codec import (
    ProxyForward,
    ProxyRequest,
    RelayForward,
    decode_routing_command,
    encode_routing_response,
)
from veil.routing.envelope import ForwardReceiver, OpenedForward
from veil.routing.errors import MalformedRoutingCommand, RoutingError

__all__ = ["ROUTING_COMMAND_TAGS", "SENDER_COMMAND_TAGS", "ProxyRole", "RoutingRoles"]

ROUTING_COMMAND_TAGS = range(0x10, 0x20)
"""Command tags of private routing; everything else is a queue command."""
SENDER_COMMAND_TAGS = frozenset({cmd.Tag.SKEY, cmd.Tag.SEND, cmd.Tag.PING})
"""The only commands a forward may carry: recipients talk to their relay directly."""

ProxyRole = Callable[[SessionState, Transmission, ProxyRequest | ProxyForward], Step]
"""The proxy's half: answers ``PRXY``/``PFWD`` later, from the network."""


def error_step(session: SessionState, correlation_id: bytes, code: int) -> Step:
    """Answer one routing command ``ERR code`` on ``session`` (a rare path: flushed at once)."""

    def finish() -> None:
        if not session.closed:
            session.enqueue(correlation_id, b"", cmd.ErrorResponse(code))
            session.flush()

    return Step([], finish)


class _ForwardedSession(SessionState):
    """The outer session as one forwarded command sees it.

    Same session id, key and MAC-key cache, so the client's authenticator (made
    for the proxy's session) verifies as on a direct connection; the command's
    one answer is sealed to the client and wrapped into an ``RRES`` on the outer
    session.
    """

    __slots__ = ("_opened", "_outer", "_outer_correlation_id")

    def __init__(
        self, outer: SessionState, opened: OpenedForward, correlation_id: bytes, max_cached: int
    ) -> None:
        super().__init__(outer.session_id, outer.session_key, _never_pushed, max_cached)
        self.auth_keys = outer.auth_keys
        self._outer = outer
        self._opened = opened
        self._outer_correlation_id = correlation_id

    def enqueue_body(self, correlation_id: bytes, entity_id: bytes, body: bytes) -> None:
        if self._outer.closed:
            return
        response = self._opened.seal_response(encode_reply(correlation_id, entity_id, body))
        self._outer.enqueue_body(self._outer_correlation_id, b"", encode_routing_response(response))

    def flush(self) -> None:
        self._outer.flush()


def _never_pushed(block: bytes) -> None:
    raise AssertionError("a forwarded session answers through its outer session")


class RoutingRoles:
    """Routes routing commands to the destination role (here) or the proxy role."""

    def __init__(
        self, protocol: RelayProtocol, proxy: ProxyRole, max_cached_auth_keys: int
    ) -> None:
        self._protocol = protocol
        self._proxy = proxy
        self._max_cached = max_cached_auth_keys

    @staticmethod
    def handles(transmission: Transmission) -> bool:
        """Whether ``transmission`` carries a routing command."""
        return transmission.body[0] in ROUTING_COMMAND_TAGS

    def handle(self, session: SessionState, transmission: Transmission, now: float) -> Step:
        """Run one routing command as far as it can go before the store commits."""
        try:
            if transmission.authenticator:
                raise MalformedRoutingCommand("routing commands carry no authenticator")
            command = decode_routing_command(transmission.body)
            if isinstance(command, RelayForward):
                return self._destination(session, transmission, command, now)
            return self._proxy(session, transmission, command)
        except RoutingError as error:
            self._protocol.metrics.errors[type(error).__name__] += 1
            return error_step(session, transmission.correlation_id, error.code)

    def _destination(
        self, session: SessionState, transmission: Transmission, forward: RelayForward, now: float
    ) -> Step:
        receiver = session.forward_receiver
        if receiver is None:
            receiver = session.forward_receiver = ForwardReceiver(
                session.session_id, session.session_key
            )
        opened = receiver.open(forward)
        try:
            inner = decode_client_transmission(opened.transmission)
        except RelayError as exc:
            raise MalformedRoutingCommand(f"forwarded transmission: {exc}") from exc
        self._protocol.metrics.forwards_received += 1
        state = _ForwardedSession(session, opened, transmission.correlation_id, self._max_cached)
        if inner.body[0] not in SENDER_COMMAND_TAGS:
            return _prohibited(state, inner)
        return self._protocol.handle(state, inner, now)


def _prohibited(state: SessionState, inner: Transmission) -> Step:
    def finish() -> None:
        state.enqueue(inner.correlation_id, inner.entity_id, cmd.ErrorResponse(_PROHIBITED))
        state.flush()

    return Step([], finish)


_PROHIBITED = CommandProhibited.code
