"""Sending through a proxy relay over a live connection (asyncio).

:class:`ProxiedPath` is one destination reached through one proxy: it asks the
proxy for its session to the destination (``PRXY``), proves the destination
from the answer (``PKEY``), then sends sender commands sealed to the
destination (``PFWD``). A ``481`` (the proxy lost its session) is handled here
by asking again, once; every other failure is raised for the caller's fallback
rules (``docs/protocol/routing.md`` section 7).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from veil.crypto import RandomSource, X25519KeyPair
from veil.relay.client.log_wire import read_log_answer
from veil.relay.client.relay_client import RelayClient
from veil.relay.protocol import queue_responses as rsp
from veil.relay.protocol.address import RelayAddress
from veil.relay.protocol.errors import UnexpectedResponse, error_for_code
from veil.relay.protocol.log_responses import EntryPosted
from veil.routing.errors import ProxySessionUnknown
from veil.routing.proxied_sender import Forward, ProxiedSender, proxy_request, read_proxy_key

__all__ = ["ProxiedPath"]


class ProxiedPath:
    """Sender commands to ``destination`` through the relay ``proxy`` is connected to."""

    def __init__(self, proxy: RelayClient, destination: RelayAddress, rng: RandomSource) -> None:
        self.proxy = proxy
        self.destination = destination
        self._rng = rng
        self._sender: ProxiedSender | None = None
        # Concurrent first sends share one PRXY: a proxy limits how many one connection
        # may have waiting, and one proven session serves them all anyway.
        self._proving = asyncio.Lock()

    async def send(self, sender_id: bytes, auth: X25519KeyPair, body: bytes) -> None:
        """``SEND`` through the proxy; returns once the destination stored it durably."""
        await self._ok(lambda sender: sender.send(sender_id, auth, body))

    async def sender_secure(self, sender_id: bytes, auth: X25519KeyPair) -> None:
        """``SKEY`` through the proxy."""
        await self._ok(lambda sender: sender.sender_secure(sender_id, auth))

    async def post(self, writer_id: bytes, auth: X25519KeyPair, body: bytes) -> int:
        """``LPOST`` to a group log at the destination through the proxy; returns the
        entry's sequence number once the destination stored it durably. The log's
        relay sees the proxy, never this client."""
        answer = await self._run(lambda sender: sender.post(writer_id, auth, body))
        return read_log_answer(answer, EntryPosted).seq

    async def ping(self) -> None:
        """``PING`` the destination through the proxy: checks the whole path."""
        response = rsp.decode_response(await self._run(lambda sender: sender.ping()))
        if not isinstance(response, rsp.Pong):
            raise UnexpectedResponse(f"expected PONG, got {type(response).__name__}")

    async def _ok(self, build: Callable[[ProxiedSender], Forward]) -> None:
        response = rsp.decode_response(await self._run(build))
        if isinstance(response, rsp.ErrorResponse):
            raise error_for_code(response.code)(f"destination answered ERR {response.code}")
        if not isinstance(response, rsp.Ok):
            raise UnexpectedResponse(f"expected OK, got {type(response).__name__}")

    async def encoded(self, body: bytes, entity_id: bytes, auth: X25519KeyPair) -> bytes:
        """A command encoded elsewhere (a file upload command) through the proxy; the
        destination's answer, still encoded."""
        return await self._run(lambda sender: sender.encoded(body, entity_id, auth))

    async def _run(self, build: Callable[[ProxiedSender], Forward]) -> bytes:
        """One command through the proxy; asks for a fresh proxy session once on ``481``.

        Returns the destination's response, still encoded."""
        sender = await self._proved_sender()
        try:
            return await self._through(sender, build)
        except ProxySessionUnknown:
            if self._sender is sender:  # concurrent callers may have replaced it already
                self._sender = None
            return await self._through(await self._proved_sender(), build)

    async def _through(
        self, sender: ProxiedSender, build: Callable[[ProxiedSender], Forward]
    ) -> bytes:
        forward = build(sender)
        body = await self.proxy.exchange(lambda: (forward.correlation_id, forward.transmission))
        return forward.read_reply_body(body)

    async def _proved_sender(self) -> ProxiedSender:
        async with self._proving:
            if self._sender is None:
                body = await self.proxy.exchange(lambda: proxy_request(self.destination, self._rng))
                self._sender = ProxiedSender(read_proxy_key(body, self.destination), self._rng)
            return self._sender
