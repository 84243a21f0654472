"""The root of Veil's error hierarchy.

Every layer defines its errors as subclasses of :class:`VeilError` and gives each
one a numeric ``code`` that is stable on the wire and in ``--json`` output. Codes
are grouped by layer so a code alone says where a failure came from:

======= =========================
range   layer
======= =========================
1xx     crypto primitives
2xx     ratchet (agreement, double ratchet, security codes)
3xx     wire codec, blocks, versions
400-469 relay protocol and transport
470-499 routing (the proxy hop)
5xx     agent (connections, delivery)
6xx     chat (profiles, contacts, store, CLI)
7xx     MLS groups (RFC 9420 encoding, suites, key schedule, framing, group operations)
8xx     files (transfer core; 85x the relay's chunk store)
9xx     the client service and its API (``veil serve``)
======= =========================

Within a layer, one hierarchy separates :class:`LocalError` (the caller or this
machine) from :class:`ProtocolError` (the remote side); each page of
``docs/protocol/`` lists its layer's codes, and a test keeps both in step.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["LocalError", "ProtocolError", "VeilError"]


class VeilError(Exception):
    """Base class of every error Veil raises on purpose."""

    code: ClassVar[int] = 1


class LocalError(VeilError):
    """The caller or the local machine failed: a bad address or link typed by the
    user, an unknown contact, a damaged store, a full disk, an unreachable network.

    No peer did anything wrong; the message says what the user can do about it.
    """

    code: ClassVar[int] = 3


class ProtocolError(VeilError):
    """The remote side sent something that breaks the protocol.

    A protocol error closes at most the one connection (or drops the one message)
    it came from; it never affects other users.
    """

    code: ClassVar[int] = 2
