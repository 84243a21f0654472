"""One browser tab's JSON-RPC conversation, carried to ``veil serve``.

The tab speaks the service's own JSON-RPC 2.0 (the methods and shapes of
``docs/api.md``) over the gateway's WebSocket; each call goes through an
authenticated :class:`~veil.service.client.ServiceClient`, and ``subscribe``
streams the service's events back as ``event`` notifications. The tab never
holds the service's token: ``hello`` is answered from the gateway's own. Two
calls are the gateway's: ``web.qr`` draws a link as an SVG QR code for the page.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import segno

from veil.service.client import ServiceClient
from veil.service.errors import InvalidParams, RemoteError, ServiceClosed

__all__ = ["MAX_FRAME", "Bridge"]

#: The largest frame a tab may send (a message of a few KiB fits many times over).
MAX_FRAME = 256 * 1024
_INVALID_REQUEST = -32600
_INVALID_PARAMS = -32602
_SERVICE_GONE = -32000
_INTERNAL = -32603
_log = logging.getLogger(__name__)

Send = Callable[[str], Awaitable[None]]


class Bridge:
    """Calls from one tab, answered through ``client``; replies go to ``send``."""

    def __init__(self, client: ServiceClient, send: Send) -> None:
        self._client = client
        self._send = send
        self._events: asyncio.Task[None] | None = None
        self._calls: set[asyncio.Task[None]] = set()

    async def take(self, frame: str) -> None:
        """Start answering one frame from the tab (calls run side by side)."""
        task = asyncio.create_task(self._answer(frame))
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def close(self) -> None:
        """Stop the event stream and the calls in flight."""
        for task in [*self._calls, *([self._events] if self._events else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _answer(self, frame: str) -> None:
        try:
            message = json.loads(frame)
        except ValueError:
            await self._reply(None, error=(-32700, "the frame is not JSON", None))
            return
        if not isinstance(message, dict) or not isinstance(message.get("method"), str):
            await self._reply(None, error=(_INVALID_REQUEST, "send a JSON-RPC 2.0 request", None))
            return
        request_id, params = message.get("id"), message.get("params", {})
        if not isinstance(params, dict):
            await self._reply(request_id, error=(_INVALID_PARAMS, "params must be an object", None))
            return
        try:
            result = await self._call(message["method"], params)
        except RemoteError as error:
            data = {"code": error.remote_code, "kind": error.kind}
            await self._reply(request_id, error=(error.remote_code, str(error), data))
        except ServiceClosed as error:
            await self._reply(request_id, error=(_SERVICE_GONE, str(error), None))
        except ValueError as error:  # the tab's parameters make no sense
            data = {"code": InvalidParams.code, "kind": "InvalidParams"}
            await self._reply(request_id, error=(_INVALID_PARAMS, str(error), data))
        except Exception:  # a fault of ours: the tab must still get an answer
            _log.exception("web call %s failed", message["method"])
            await self._reply(
                request_id, error=(_INTERNAL, "the web gateway failed; its log says why", None)
            )
        else:
            await self._reply(request_id, result=result)

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        if method == "hello":
            return self._client.hello
        if method == "web.qr":
            return {"svg": _qr_svg(str(params.get("text", "")))}
        if method == "subscribe":
            since = params.get("since", 0)
            if not isinstance(since, int) or since < 0:
                raise ValueError("since must be a sequence number (0 for all)")
            self._start_events(since)
            return {"since": since}
        return await self._client.call(method, params)

    def _start_events(self, since: int) -> None:
        if self._events is not None:
            self._events.cancel()
        self._events = asyncio.create_task(self._stream(since))

    async def _stream(self, since: int) -> None:
        with contextlib.suppress(ServiceClosed):
            async for event in self._client.events(since):
                note = {"jsonrpc": "2.0", "method": "event", "params": event}
                await self._send(json.dumps(note))

    async def _reply(
        self,
        request_id: Any,
        *,
        result: Any = None,
        error: tuple[int, str, Any] | None = None,
    ) -> None:
        if request_id is None and error is None:
            return  # a notification from the tab wants no answer
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
        if error is None:
            body["result"] = result
        else:
            code, text, data = error
            body["error"] = {"code": code, "message": text, "data": data}
        await self._send(json.dumps(body))


def _qr_svg(text: str) -> str:
    if not text or len(text) > 2048:
        raise ValueError("give the text of a link to draw (at most 2,048 characters)")
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=6, border=2)
    return out.getvalue().decode("utf-8")
