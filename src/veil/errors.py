"""The root of Veil's error hierarchy.

Every layer defines its errors as subclasses of :class:`VeilError` and gives each
one a numeric ``code`` that is stable on the wire and in ``--json`` output. Codes
are grouped by layer so a code alone says where a failure came from:

====== =========================
range  layer
====== =========================
1xx    crypto primitives
2xx    ratchet (agreement, double ratchet, security codes)
3xx    wire codec, blocks, versions
4xx    relay protocol and transport
5xx    agent (connections, delivery)
6xx    chat (profiles, contacts, store, CLI)
8xx    files (transfer core; 85x the relay's chunk store)
====== =========================
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["ProtocolError", "VeilError"]


class VeilError(Exception):
    """Base class of every error Veil raises on purpose."""

    code: ClassVar[int] = 1


class ProtocolError(VeilError):
    """The remote side sent something that breaks the protocol.

    A protocol error closes at most the one connection (or drops the one message)
    it came from; it never affects other users.
    """

    code: ClassVar[int] = 2
