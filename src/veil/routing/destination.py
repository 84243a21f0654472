"""Private routing at the relay: dispatch of the routing commands, and the destination role.

Routing commands (tags 0x10-0x1F, ``docs/protocol/routing.md``) arrive in the same
blocks as queue commands. :class:`RoutingRoles` takes them over from the queue
protocol:

* ``RFWD`` (this relay is the destination): open the forward with the session's
  :class:`~veil.routing.ForwardReceiver`, run the client's inner transmission
  through :class:`~veil.relay.server.core.RelayProtocol` exactly like a direct one
  (same authenticator check against this session, same store commit), but only if
  it is a sender command (``SKEY``, ``SEND``, ``PING``, or a group-log ``LPOST``,
  which goes to the log service); its answer is sealed back into an ``RRES``.
* ``PRXY`` and ``PFWD`` (this relay is the proxy) go to
  :class:`veil.routing.proxy.RelayProxy`, which does the network half.

:class:`RoutingRoles` is the relay service's
:class:`~veil.relay.server.service.CommandExtension`. Sans I/O: nothing here
touches sockets or the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from veil.relay.protocol import queue_commands as cmd
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.errors import CommandProhibited, RelayError
from veil.relay.protocol.log_commands import LogTag
from veil.relay.protocol.transmission import Transmission, decode_client_transmission, encode_reply
from veil.relay.server.core import RelayProtocol
from veil.relay.server.session import SessionState
from veil.relay.server.steps import Answer, Step
from veil.routing.codec import (
    ProxyForward,
    ProxyRequest,
    RelayForward,
    decode_routing_command,
    encode_routing_response,
)
from veil.routing.errors import MalformedRoutingCommand, ProxyingDisabled, RoutingProtocolError
from veil.routing.forward_crypto import ForwardReceiver, OpenedForward

__all__ = [
    "ROUTING_COMMAND_TAGS",
    "SENDER_COMMAND_TAGS",
    "UPLOAD_COMMAND_TAGS",
    "ForwardedHandler",
    "ProxyCommandTaken",
    "ProxyRole",
    "RoutingRoles",
    "error_step",
]

ROUTING_COMMAND_TAGS = range(0x10, 0x20)
"""Command tags of private routing; everything else is a queue command."""
SENDER_COMMAND_TAGS = frozenset({cmd.Tag.SKEY, cmd.Tag.SEND, cmd.Tag.PING, LogTag.LPOST})
"""The only commands a forward may carry: recipients (and log readers and admins) talk
to their relay directly."""
ForwardedHandler = Callable[[SessionState, Transmission, float], Step]
"""Runs a forwarded command of another command set (a group-log post) at this relay."""
UPLOAD_COMMAND_TAGS = frozenset({0x20, 0x21, 0x22, 0x23})
"""File commands a proxy may forward (``FNEW``, ``FADD``, ``FPUT``, ``FDEL``): uploads
take the private route; downloads (many answers to one command) go direct."""


@dataclass(frozen=True, slots=True)
class ProxyCommandTaken:
    """A ``PRXY`` or ``PFWD`` the proxy starts on once committed (it needs no store)."""

    session: SessionState
    transmission: Transmission
    command: ProxyRequest | ProxyForward


class ProxyRole(Protocol):
    """The proxy's half (:class:`veil.routing.proxy.RelayProxy`): answers ``PRXY`` and
    ``PFWD`` later, from the network."""

    @property
    def enabled(self) -> bool:
        """Whether this relay acts as a proxy at all."""
        ...

    def start(self, taken: ProxyCommandTaken) -> None:
        """Start on one ``PRXY`` or ``PFWD``; its answer follows from the network."""
        ...

    def close_session(self, session: SessionState) -> None:
        """Forget a connection that ended."""
        ...

    async def close(self) -> None:
        """Close every destination session."""
        ...


def error_step(session: SessionState, correlation_id: bytes, code: int) -> Step:
    """Answer one routing command ``ERR code`` on ``session``."""
    return Step((), Answer(session, correlation_id, b"", rsp.ErrorResponse(code)))


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
        super().__init__(outer.session_id, outer.session_key, max_cached)
        self.auth_keys = outer.auth_keys
        self.version = outer.version
        self._outer = outer
        self._opened = opened
        self._outer_correlation_id = correlation_id

    @property
    def carrier(self) -> SessionState:
        """The outer session: the forwarded command's answer travels in its ``RRES``."""
        return self._outer

    def enqueue_body(self, correlation_id: bytes, entity_id: bytes, body: bytes) -> None:
        if self._outer.closed:
            return
        response = self._opened.seal_response(encode_reply(correlation_id, entity_id, body))
        self._outer.enqueue_body(self._outer_correlation_id, b"", encode_routing_response(response))


class RoutingRoles:
    """Routes routing commands to the destination role (here) or the proxy role.

    The relay service's :class:`~veil.relay.server.service.CommandExtension`.
    """

    def __init__(
        self,
        protocol: RelayProtocol,
        proxy: ProxyRole,
        max_cached_auth_keys: int,
        *,
        log_posts: ForwardedHandler | None = None,
    ) -> None:
        self._protocol = protocol
        self._log_posts = log_posts
        """Runs forwarded ``LPOST``; its steps are committed by whoever made the handler."""
        self.proxy = proxy
        self._max_cached = max_cached_auth_keys
        self._receivers: dict[SessionState, ForwardReceiver] = {}
        """Opens ``RFWD`` forwards on each session; made on its first one."""
        self.forwarded_uploads: ForwardedHandler | None = None
        """Serves forwarded file uploads (``FNEW``, ``FADD``, ``FPUT``, ``FDEL``) when
        the relay stores files; without it they are refused like other commands."""

    def close_session(self, session: SessionState) -> None:
        """Forget a connection's forward receiver and its waiting ``PRXY``."""
        self._receivers.pop(session, None)
        self.proxy.close_session(session)

    async def close(self) -> None:
        """Close the proxy's destination sessions."""
        await self.proxy.close()

    def commit(self, step: Step) -> None:
        """Start the proxy on its commands; commit forwarded ones like direct ones."""
        if isinstance(step.outcome, ProxyCommandTaken):
            self.proxy.start(step.outcome)
        else:
            self._protocol.commit(step)

    def undo(self, step: Step) -> None:
        """Revert a forwarded command whose store changes failed (proxy ones have none)."""
        self._protocol.undo(step)

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
            if not self.proxy.enabled:
                return error_step(session, transmission.correlation_id, ProxyingDisabled.code)
            return Step((), ProxyCommandTaken(session, transmission, command))
        except RoutingProtocolError as error:
            self._protocol.metrics.errors[type(error).__name__] += 1
            return error_step(session, transmission.correlation_id, error.code)

    def _destination(
        self, session: SessionState, transmission: Transmission, forward: RelayForward, now: float
    ) -> Step:
        receiver = self._receivers.get(session)
        if receiver is None:
            receiver = self._receivers[session] = ForwardReceiver(
                session.session_id, session.session_key
            )
        opened = receiver.open(forward)
        try:
            inner = decode_client_transmission(opened.transmission)
        except RelayError as exc:
            raise MalformedRoutingCommand(f"forwarded transmission: {exc}") from exc
        self._protocol.metrics.forwards_received += 1
        state = _ForwardedSession(session, opened, transmission.correlation_id, self._max_cached)
        if inner.body[0] in UPLOAD_COMMAND_TAGS and self.forwarded_uploads is not None:
            return self.forwarded_uploads(state, inner, now)
        if inner.body[0] not in SENDER_COMMAND_TAGS:
            return _prohibited(state, inner)
        if inner.body[0] == LogTag.LPOST:
            if self._log_posts is None:
                return _prohibited(state, inner)
            return self._log_posts(state, inner, now)
        return self._protocol.handle(state, inner, now)


def _prohibited(state: SessionState, inner: Transmission) -> Step:
    refusal = rsp.ErrorResponse(_PROHIBITED)
    return Step((), Answer(state, inner.correlation_id, inner.entity_id, refusal))


_PROHIBITED = CommandProhibited.code
