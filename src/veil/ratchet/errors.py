"""Errors of the ratchet layer (codes 2xx): agreement, double ratchet, security codes.

:class:`RatchetProtocolError` and its subclasses mean the *peer's* bytes were bad: the
message is dropped and the ratchet state is left exactly as it was. The other
subclasses of :class:`RatchetError` are local faults (corrupt persisted state, a
ratchet asked to send before it can).
"""

from __future__ import annotations

from typing import ClassVar

from veil.errors import ProtocolError, VeilError

__all__ = [
    "CannotSendYet",
    "CorruptRatchetState",
    "DuplicateMessage",
    "HeaderDecryptionFailed",
    "InvalidPeerKey",
    "MalformedHandshake",
    "MalformedMessage",
    "MessageAuthenticationFailed",
    "PostQuantumDropped",
    "RatchetError",
    "RatchetProtocolError",
    "RekeyRequired",
    "TooManySkippedMessages",
    "UnsupportedRatchetVersion",
]


class RatchetError(VeilError):
    """Base class of every error the ratchet layer raises."""

    code: ClassVar[int] = 200


class RatchetProtocolError(RatchetError, ProtocolError):
    """The peer sent bytes the ratchet rejects; our state did not change."""

    code: ClassVar[int] = 201


class MalformedMessage(RatchetProtocolError):
    """A ratchet message or its decrypted header does not decode."""

    code: ClassVar[int] = 202


class HeaderDecryptionFailed(RatchetProtocolError):
    """No header key we hold opens the encrypted header (forged, or too old)."""

    code: ClassVar[int] = 203


class MessageAuthenticationFailed(RatchetProtocolError):
    """The header opened but the message body (or its associated data) is forged."""

    code: ClassVar[int] = 204


class DuplicateMessage(RatchetProtocolError):
    """The message was already decrypted (a replay), or its skipped key was evicted."""

    code: ClassVar[int] = 205


class TooManySkippedMessages(RatchetProtocolError):
    """Decrypting would skip more message keys than the configured limit allows."""

    code: ClassVar[int] = 206


class MalformedHandshake(RatchetProtocolError):
    """An invitation or reply does not decode or is inconsistent with its peer."""

    code: ClassVar[int] = 207


class UnsupportedRatchetVersion(RatchetProtocolError):
    """The peer's ratchet version range does not overlap ours, or a message names
    a version other than the one the connection agreed."""

    code: ClassVar[int] = 208


class InvalidPeerKey(RatchetProtocolError):
    """A public key or KEM ciphertext from the peer is unusable (e.g. low order)."""

    code: ClassVar[int] = 209


class CorruptRatchetState(RatchetError):
    """Persisted ratchet or handshake state does not decode: storage is damaged."""

    code: ClassVar[int] = 220


class CannotSendYet(RatchetError):
    """The responder must receive the initiator's first message before sending."""

    code: ClassVar[int] = 221


class RekeyRequired(RatchetError):
    """A state restored from a backup may not send before its next DH turn: its
    current sending chain may already have been used after the backup was made."""

    code: ClassVar[int] = 222


class PostQuantumDropped(MalformedHandshake):
    """The invitation offered ML-KEM-768 but the reply carries no KEM ciphertext, and
    the inviter requires post-quantum connections."""

    code: ClassVar[int] = 210
