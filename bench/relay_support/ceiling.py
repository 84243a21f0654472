"""The Python+TLS ceiling: a bare asyncio TLS forwarder of 16 KiB blocks.

Not run alone: ``bench/relay.py`` imports it. ``serve_forwarder`` runs in the
server process; ``measure_ceiling`` drives it from the load process. Pairs of
connections say who they are in their first block; every later block from
sender ``i`` is forwarded, untouched, to receiver ``i``. Stock asyncio TLS on both
sides: this is what one event loop can move, with no relay logic at all.
"""

from __future__ import annotations

import asyncio
import ssl
import time

BLOCK = 16_384
_WINDOW = 64  # blocks a sender may have in flight before waiting for the receiver


class _ForwarderConnection(asyncio.Protocol):
    """Server side of one connection: frames blocks, forwards by pair id."""

    def __init__(self, pairs: dict[int, list[asyncio.Transport | None]]) -> None:
        self._pairs = pairs
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._pair: list[asyncio.Transport | None] = [None, None]
        self._named = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= BLOCK:
            block = bytes(self._buffer[:BLOCK])
            del self._buffer[:BLOCK]
            self._block(block)

    def _block(self, block: bytes) -> None:
        if not self._named:  # first block: b"S" or b"R", then the pair number
            self._named = True
            pair = self._pairs.setdefault(int.from_bytes(block[1:5], "big"), [None, None])
            pair[0 if block[:1] == b"S" else 1] = self._transport
            self._pair = pair
            return
        receiver = self._pair[1]
        if receiver is not None and not receiver.is_closing():
            receiver.write(block)


async def serve_forwarder(context: ssl.SSLContext, port: int) -> asyncio.Server:
    """Start the forwarder on ``127.0.0.1:port``."""
    pairs: dict[int, list[asyncio.Transport | None]] = {}
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: _ForwarderConnection(pairs), "127.0.0.1", port, ssl=context
    )


class _Sink(asyncio.Protocol):
    """Receiving end of a pair: counts bytes and wakes the sender on progress."""

    def __init__(self) -> None:
        self.received = 0
        self.progress = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        self.progress.set()


async def _pair(port: int, number: int, seconds: float, context: ssl.SSLContext) -> int:
    loop = asyncio.get_running_loop()
    receiver, sink = await loop.create_connection(_Sink, "127.0.0.1", port, ssl=context)
    receiver.write(b"R" + number.to_bytes(4, "big") + bytes(BLOCK - 5))
    await asyncio.sleep(0.2)  # let the receiver register before blocks flow
    sender, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port, ssl=context)
    sender.write(b"S" + number.to_bytes(4, "big") + bytes(BLOCK - 5))
    payload = bytes(range(256)) * (BLOCK // 256)
    sent = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        while sent - sink.received // BLOCK < _WINDOW:
            sender.write(payload)
            sent += 1
        sink.progress.clear()
        await sink.progress.wait()
    sender.close()
    receiver.close()
    return sink.received // BLOCK


async def measure_ceiling(port: int, pairs: int, seconds: float) -> float:
    """Blocks per second forwarded through the bare forwarder with ``pairs`` pairs."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    started = time.perf_counter()
    counts = await asyncio.gather(*(_pair(port, n, seconds, context) for n in range(pairs)))
    return sum(counts) / (time.perf_counter() - started - 0.2)
