"""The root of Veil's error hierarchy.

Every layer defines its errors as subclasses of :class:`VeilError` and gives each
one a numeric ``code`` that is stable on the wire and in ``--json`` output. Codes
are grouped by layer so a code alone says where a failure came from:

======= =================="""

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
