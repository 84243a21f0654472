"""The web gateway: HTTP pages and the API WebSocket on 127.0.0.1 (asyncio adapter).

:class:`WebGateway` answers plain requests through :class:`~veil.web.routes.WebRoutes`
and gives each tab that opens the API WebSocket its own
:class:`~veil.web.bridge.Bridge` over a fresh connection to the profile's
``veil serve``. It binds loopback only: the web app is for the person at this
machine.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from veil.crypto import RandomSource, SystemRandom
from veil.service.client import ServiceClient
from veil.web.bridge import MAX_FRAME, Bridge
from veil.web.routes import WebRoutes
from veil.web.sessions import WebSessions

__all__ = ["LOOPBACK", "WebGateway"]

LOOPBACK = "127.0.0.1"
_REASONS = {
    200: "OK",
    303: "See Other",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    421: "Misdirected Request",
}


class WebGateway:
    """The web app of the profile in ``home``, once :meth:`start` has bound a port."""

    def __init__(self, home: Path, rng: RandomSource | None = None) -> None:
        self.home = home
        self.sessions = WebSessions(rng or SystemRandom(), time.monotonic)
        self._server: Server | None = None
        self._routes: WebRoutes | None = None

    async def start(self, port: int = 0) -> None:
        """Listen on 127.0.0.1:``port`` (0: any free port)."""
        self._server = await serve(
            self._serve_tab,
            LOOPBACK,
            port,
            process_request=self._process_request,
            max_size=MAX_FRAME,
            server_header=None,
        )
        bound = self._server.sockets[0].getsockname()[1]
        self._routes = WebRoutes(self.sessions, LOOPBACK, bound)

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``."""
        assert self._routes is not None, "start() the gateway first"
        return self._routes.origin

    def new_link(self) -> str:
        """A one-time sign-in link for a browser."""
        return f"{self.origin}/open?ticket={self.sessions.issue_ticket()}"

    async def serve_forever(self) -> None:
        """Serve until cancelled."""
        assert self._server is not None
        await self._server.serve_forever()

    async def close(self) -> None:
        """Stop listening and close every tab."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        assert self._routes is not None
        headers = {name.lower(): value for name, value in request.headers.raw_items()}
        answer = self._routes.answer(request.path, headers)
        if answer is None:
            return None
        response_headers = Headers(self._routes.security_headers())
        response_headers["Content-Type"] = answer.content_type
        response_headers["Content-Length"] = str(len(answer.body))
        for name, value in answer.headers.items():
            response_headers[name] = value
        reason = _REASONS.get(answer.status, "Refused")
        return Response(answer.status, reason, response_headers, answer.body)

    async def _serve_tab(self, connection: ServerConnection) -> None:
        async with await ServiceClient.connect(self.home) as client:

            async def send(text: str) -> None:
                with contextlib.suppress(ConnectionClosed):
                    await connection.send(text)

            bridge = Bridge(client, send)
            try:
                async for message in connection:
                    await bridge.take(_text(message))
            except ConnectionClosed:
                pass
            finally:
                await bridge.close()


def _text(message: str | bytes) -> str:
    return message if isinstance(message, str) else message.decode("utf-8", "replace")
