"""File uploads through a proxy: the file relay never sees the uploader's address.

:class:`ProxiedUploads` is an :class:`~veil.relay.client.file_uploads.UploadPort`
over a :class:`~veil.routing.proxied_path.ProxiedPath`: each upload command
(``FNEW``, ``FADD``, ``FPUT``, ``FDEL``) travels as one ``PFWD``, and the file relay
answers each forwarded piece (``files.md`` section 8), since a proxy waits for one
answer per forward. Pieces go :data:`PIECE_WINDOW` at a time, in order (the proxy
forwards them in the order they came, on one session). Downloads go direct.
"""

from __future__ import annotations

import asyncio
import contextlib

from veil.crypto import X25519KeyPair
from veil.errors import VeilError
from veil.relay.protocol import queue_responses as rsp
from veil.routing.proxied_path import ProxiedPath

__all__ = ["PIECE_WINDOW", "ProxiedUploads"]

PIECE_WINDOW = 8
"""Forwarded pieces of one chunk in flight at once."""


def _is_ok(answer: bytes) -> bool:
    with contextlib.suppress(VeilError):
        return isinstance(rsp.decode_response(answer), rsp.Ok)
    return False


class ProxiedUploads:
    """Upload commands to one file relay, each forwarded by one proxy."""

    def __init__(self, path: ProxiedPath) -> None:
        self.path = path

    @property
    def ready(self) -> bool:
        """Whether the connection to the proxy is up."""
        return self.path.proxy.connected

    async def command(self, body: bytes, entity: bytes, auth: X25519KeyPair) -> bytes:
        """One command through the proxy; the file relay's answer."""
        return await self.path.encoded(body, entity, auth)

    async def pieces(self, bodies: list[bytes], entity: bytes, auth: X25519KeyPair) -> bytes:
        """A chunk's pieces through the proxy; the last answer, or the first that is not
        ``OK`` (the upload stops there)."""
        answer = b""
        for start in range(0, len(bodies), PIECE_WINDOW):
            window = bodies[start : start + PIECE_WINDOW]
            answers = await asyncio.gather(*(self.command(b, entity, auth) for b in window))
            for answer in answers:
                if not _is_ok(answer):
                    return answer
        return answer
