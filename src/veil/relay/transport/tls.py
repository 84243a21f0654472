"""TLS 1.3 carrying fixed 16,384-byte blocks, over ``ssl.MemoryBIO`` and our own buffers.

Why not asyncio's own TLS: its SSL protocol allocates a 256 KiB receive buffer per
connection, which dominates the cost of an idle client. Here TLS runs on an
``SSLObject`` between two memory BIOs and the socket side is a plain
``asyncio.Protocol``; between blocks a connection holds no buffer of its own.

Memory BIOs never shrink: whatever passes through one in a single piece stays
allocated until the connection closes. So incoming bytes are fed to TLS in small
slices (OpenSSL moves partial records into its own buffer), and each outgoing
record is taken out of the BIO as soon as it is encrypted; the records of one
event-loop turn then go to the socket in one write. An idle connection holds
OpenSSL's own state, one record's worth of outgoing BIO and one slice of incoming.

Every write is exactly one block, which TLS sends as exactly one record (16,384 bytes
is TLS's largest record payload), so after the handshake every application-data
record on the wire has the same length in both directions. To keep that true the
server issues no session tickets and neither side sends ``close_notify``: a
connection ends by closing TCP, which loses nothing because every block is
self-delimiting and every command is answered.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import ClassVar

from veil.wire.blocks import BLOCK_SIZE

__all__ = [
    "ALPN_PROTOCOL",
    "FEED_SLICE",
    "HANDSHAKE_TIMEOUT",
    "TlsBlockProtocol",
    "client_context",
    "server_context",
]

ALPN_PROTOCOL = "veil/1"
#: Seconds a peer has to finish the TLS handshake and send its first block (the hello).
HANDSHAKE_TIMEOUT = 15.0
#: Largest slice of received bytes written to the incoming BIO at once (see module doc).
FEED_SLICE = 4096


def _restrict(context: ssl.SSLContext) -> ssl.SSLContext:
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    context.set_alpn_protocols([ALPN_PROTOCOL])
    return context


def server_context(certificate_file: Path, key_file: Path) -> ssl.SSLContext:
    """A relay's TLS context: TLS 1.3 only, ALPN ``veil/1``, no session tickets."""
    context = _restrict(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    # A ticket is a post-handshake record of another length; resumption buys nothing
    # here because every connection starts a fresh relay session anyway.
    context.num_tickets = 0
    context.load_cert_chain(certificate_file, key_file)
    return context


def client_context() -> ssl.SSLContext:
    """A client's TLS context: TLS 1.3 only, ALPN ``veil/1``, no CA.

    Certificate checking is off on purpose: the caller pins the relay's identity
    key by fingerprint after the handshake (see :mod:`veil.relay.transport.identity`). TLS 1.3
    itself still proves that the peer holds the certificate's private key.
    """
    context = _restrict(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class TlsBlockProtocol(asyncio.Protocol):
    """A TLS connection that moves whole blocks; subclasses handle the events.

    Subclasses implement :meth:`on_handshake_completed`, :meth:`on_block_received`
    and :meth:`on_connection_closed`, and call :meth:`send_block`, :meth:`close`
    and :meth:`hold_reading`.
    """

    server_side: ClassVar[bool]

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        self._transport: asyncio.Transport | None = None
        self._tls: ssl.SSLObject | None = None
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._partial = bytearray()
        self._output: list[bytes] = []
        self._established = False
        self._closing = False
        self._writing_paused = False
        self._reading_held = False
        self._handshake_timer: asyncio.TimerHandle | None = None
        self._close_reason: BaseException | None = None

    # -- events for subclasses -------------------------------------------------

    def on_handshake_completed(self) -> None:
        """TLS is up and ALPN agreed; the peer's certificate can now be checked."""

    def on_block_received(self, block: bytes) -> None:
        """One complete block arrived."""
        raise NotImplementedError

    def on_connection_closed(self, exc: BaseException | None) -> None:
        """The connection is gone; ``exc`` says why if it did not end cleanly."""

    # -- calls for subclasses --------------------------------------------------

    @property
    def established(self) -> bool:
        """True once the handshake completed and until the connection closes."""
        return self._established and not self._closing

    def peer_certificate(self) -> bytes:
        """The DER certificate the peer presented (empty if it presented none)."""
        assert self._tls is not None
        return self._tls.getpeercert(binary_form=True) or b""

    def send_block(self, block: bytes) -> None:
        """Encrypt one block and hand it to the socket."""
        if len(block) != BLOCK_SIZE:
            raise ValueError(f"a block is {BLOCK_SIZE} bytes, not {len(block)}")
        if self._closing or self._tls is None:
            return
        self._tls.write(block)
        self._take_output()

    def hold_reading(self, held: bool) -> None:
        """Stop (or restart) reading from the peer, e.g. while a backlog drains."""
        self._reading_held = held
        self._update_reading()

    def close(self, exc: BaseException | None = None) -> None:
        """Flush what is queued and close TCP (no ``close_notify``, see module doc)."""
        if self._closing or self._transport is None:
            return
        self._closing = True
        self._close_reason = exc
        self._cancel_handshake_timer()
        self._flush()
        if exc is None:
            self._transport.close()
        else:
            self._transport.abort()

    # -- asyncio.Protocol ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._tls = self._context.wrap_bio(
            self._incoming, self._outgoing, server_side=self.server_side
        )
        loop = asyncio.get_running_loop()
        self._handshake_timer = loop.call_later(HANDSHAKE_TIMEOUT, self._handshake_timed_out)
        if not self.server_side:
            self._advance_handshake()

    def data_received(self, data: bytes) -> None:
        view = memoryview(data)
        for start in range(0, len(view), FEED_SLICE):
            if self._closing:
                return
            self._incoming.write(view[start : start + FEED_SLICE])
            if not self._established:
                self._advance_handshake()
            if self._established and not self._closing:
                self._read_blocks()

    def eof_received(self) -> bool | None:
        # Returning None lets the transport close itself.
        return None

    def pause_writing(self) -> None:
        self._writing_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._update_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self._cancel_handshake_timer()
        self._partial = bytearray()
        self.on_connection_closed(exc or self._close_reason)

    # -- internals -------------------------------------------------------------

    def _advance_handshake(self) -> None:
        assert self._tls is not None
        try:
            self._tls.do_handshake()
        except ssl.SSLWantReadError:
            self._flush()
            return
        except (ssl.SSLError, OSError) as exc:
            self.close(exc)
            return
        self._flush()
        if self._tls.selected_alpn_protocol() != ALPN_PROTOCOL:
            self.close(ssl.SSLError(f"peer did not agree to ALPN {ALPN_PROTOCOL}"))
            return
        self._established = True
        self.on_handshake_completed()

    def _read_blocks(self) -> None:
        assert self._tls is not None
        while not self._closing:
            try:
                chunk = self._tls.read(BLOCK_SIZE - len(self._partial))
            except ssl.SSLWantReadError:
                break
            except (ssl.SSLError, OSError) as exc:
                self.close(exc)
                return
            if not chunk:  # the peer sent close_notify
                self.close()
                return
            self._take_chunk(chunk)
        self._take_output()  # reading may have produced TLS output (e.g. a key update)

    def _take_chunk(self, chunk: bytes) -> None:
        if not self._partial and len(chunk) == BLOCK_SIZE:
            self._deliver(chunk)  # the common case: one record, one block
            return
        self._partial += chunk
        if len(self._partial) == BLOCK_SIZE:
            block, self._partial = bytes(self._partial), bytearray()
            self._deliver(block)

    def _deliver(self, block: bytes) -> None:
        # The first block (a hello) ends the handshake phase and its deadline.
        self._cancel_handshake_timer()
        self.on_block_received(block)

    def _take_output(self) -> None:
        """Move encrypted bytes out of the BIO; they are written at the end of this turn."""
        if self._outgoing.pending:
            if not self._output:
                asyncio.get_running_loop().call_soon(self._flush)
            self._output.append(self._outgoing.read())

    def _flush(self) -> None:
        """Write everything encrypted so far to the socket now."""
        if self._outgoing.pending:
            self._output.append(self._outgoing.read())
        output, self._output = self._output, []
        if output and self._transport is not None and not self._transport.is_closing():
            self._transport.write(b"".join(output))

    def _update_reading(self) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        if self._writing_paused or self._reading_held:
            self._transport.pause_reading()
        else:
            self._transport.resume_reading()

    def _handshake_timed_out(self) -> None:
        self._handshake_timer = None
        self.close(TimeoutError("no TLS handshake and hello in time"))

    def _cancel_handshake_timer(self) -> None:
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
            self._handshake_timer = None
