"""Errors of the relay layer (codes 400-469), for the protocol, server and client.

Every one is a :class:`RelayError`; which side failed is the next class down:

* :class:`RelayLocalError` (a :class:`veil.errors.LocalError`): this machine or its
  user - a mistyped relay address, a bad ``config.toml``, a store that cannot
  commit. No peer did anything wrong; nothing travels on the wire.
* :class:`RelayProtocolError` (a :class:`veil.errors.ProtocolError`): the other side.

  - :class:`CommandError` subclasses answer one command with ``ERR code`` and leave
    the connection open. The wire code is the class's ``code``; a client turns a
    received code back into the same class with :func:`error_for_code`.
  - The others (and the wire layer's 3xx errors) mean the peer broke the framing or
    the handshake, or went away: the connection is closed.
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar

from veil.errors import LocalError, ProtocolError, VeilError

__all__ = [
    "AuthFailed",
    "BadCommand",
    "CommandError",
    "CommandProhibited",
    "ConnectionLost",
    "EntryNotPosted",
    "ErrorCode",
    "HandshakeFailed",
    "IdentityMismatch",
    "InternalError",
    "InvalidAddress",
    "InvalidLogCredentials",
    "InvalidRelayConfig",
    "LogFull",
    "LogsUnsupported",
    "MalformedTransmission",
    "MessageTooLarge",
    "NoMessage",
    "NoSuchMember",
    "QuotaExceeded",
    "RelayError",
    "RelayLocalError",
    "RelayProtocolError",
    "StoreFailed",
    "TooManyLogs",
    "TooManyMembers",
    "TooManyQueues",
    "UnexpectedResponse",
    "UnknownCommand",
    "error_for_code",
]


class ErrorCode(IntEnum):
    """Every relay error code; the ``ERR`` response carries one as a ``u16``."""

    RELAY = 400
    MALFORMED_TRANSMISSION = 401
    HANDSHAKE = 402
    UNEXPECTED_RESPONSE = 403
    INVALID_ADDRESS = 404
    IDENTITY_MISMATCH = 405
    CONNECTION_LOST = 406
    PROTOCOL = 407
    LOCAL = 408
    INVALID_CONFIG = 409
    COMMAND = 410
    SYNTAX = 411
    UNKNOWN_COMMAND = 412
    AUTH = 413
    QUOTA = 414
    NO_MSG = 415
    LARGE_MSG = 416
    PROHIBITED = 417
    INTERNAL = 418
    TOO_MANY_QUEUES = 419
    STORE = 420
    LOG_FULL = 430
    TOO_MANY_MEMBERS = 431
    NO_SUCH_MEMBER = 432
    NOT_POSTED = 433
    LOGS_UNSUPPORTED = 434
    TOO_MANY_LOGS = 435
    INVALID_LOG_CREDENTIALS = 436


class RelayError(VeilError):
    """Base of every error of the relay layer."""

    code: ClassVar[int] = ErrorCode.RELAY


class RelayProtocolError(RelayError, ProtocolError):
    """The other side (relay or client) broke the relay protocol, refused a command,
    or went away."""

    code: ClassVar[int] = ErrorCode.PROTOCOL


class RelayLocalError(RelayError, LocalError):
    """This machine or its user failed: nothing remote misbehaved."""

    code: ClassVar[int] = ErrorCode.LOCAL


class MalformedTransmission(RelayProtocolError):
    """A transmission's header (authenticator, correlation id, entity id) is malformed.

    Without a trustworthy correlation id there is nobody to answer, so the
    connection closes.
    """

    code: ClassVar[int] = ErrorCode.MALFORMED_TRANSMISSION


class HandshakeFailed(RelayProtocolError):
    """A hello is malformed, or its signature does not match the pinned identity."""

    code: ClassVar[int] = ErrorCode.HANDSHAKE


class UnexpectedResponse(RelayProtocolError):
    """The relay sent a response the client cannot use (client side only)."""

    code: ClassVar[int] = ErrorCode.UNEXPECTED_RESPONSE


class InvalidAddress(RelayLocalError, ValueError):
    """A relay address (``veil://...``) does not parse: check it for typos, or ask
    its operator for the address ``veil-relay address`` prints."""

    code: ClassVar[int] = ErrorCode.INVALID_ADDRESS


class IdentityMismatch(HandshakeFailed):
    """The relay's key is not the one pinned by the address's fingerprint.

    The client aborts the connection before sending anything: it may be talking
    to an impostor.
    """

    code: ClassVar[int] = ErrorCode.IDENTITY_MISMATCH


class ConnectionLost(RelayProtocolError):
    """The connection to the relay failed or closed before a command was answered.

    The command may or may not have taken effect; repeating it is safe for every
    command except ``NEW`` (which would make a second queue).
    """

    code: ClassVar[int] = ErrorCode.CONNECTION_LOST


class CommandError(RelayProtocolError):
    """A single command failed; the relay answers ``ERR code`` and carries on."""

    code: ClassVar[int] = ErrorCode.COMMAND


class BadCommand(CommandError):
    """A known command whose fields do not decode, or that lacks a needed entity id."""

    code: ClassVar[int] = ErrorCode.SYNTAX


class UnknownCommand(CommandError):
    """The command tag is not one this protocol version defines."""

    code: ClassVar[int] = ErrorCode.UNKNOWN_COMMAND


class AuthFailed(CommandError):
    """Not authorised: bad authenticator, unknown queue, wrong password, suspended queue.

    One code for all of these so an outsider cannot tell which one happened.
    """

    code: ClassVar[int] = ErrorCode.AUTH


class QuotaExceeded(CommandError):
    """The queue holds its quota of undelivered messages; retry after it drains."""

    code: ClassVar[int] = ErrorCode.QUOTA


class NoMessage(CommandError):
    """``GET`` on an empty queue, or ``ACK`` of a message that is not the pending one."""

    code: ClassVar[int] = ErrorCode.NO_MSG


class MessageTooLarge(CommandError):
    """A ``SEND`` body is longer than ``MAX_MESSAGE_BODY``."""

    code: ClassVar[int] = ErrorCode.LARGE_MSG


class CommandProhibited(CommandError):
    """The command is valid but not allowed in the queue's state (e.g. a second ``KEY``)."""

    code: ClassVar[int] = ErrorCode.PROHIBITED


class InternalError(CommandError):
    """The relay could not complete the command (e.g. its store failed)."""

    code: ClassVar[int] = ErrorCode.INTERNAL


class TooManyQueues(CommandError):
    """This connection made ``max_queues_per_connection`` queues already (``NEW``).

    Bounds what one connection can make an open relay store; a client that really
    needs more opens another connection.
    """

    code: ClassVar[int] = ErrorCode.TOO_MANY_QUEUES


class LogFull(CommandError):
    """The group log holds its quota of entries; post again once its readers caught up
    (or retention removed old entries)."""

    code: ClassVar[int] = ErrorCode.LOG_FULL


class TooManyMembers(CommandError):
    """The group log has its maximum of readers and writers; remove one first."""

    code: ClassVar[int] = ErrorCode.TOO_MANY_MEMBERS


class NoSuchMember(CommandError):
    """The admin named a reader or writer id this log does not have (removed already?)."""

    code: ClassVar[int] = ErrorCode.NO_SUCH_MEMBER


class EntryNotPosted(CommandError):
    """``LACK`` named a sequence number the log has not reached: acknowledge only
    entries that were delivered."""

    code: ClassVar[int] = ErrorCode.NOT_POSTED


class LogsUnsupported(RelayProtocolError):
    """(client) The relay speaks a protocol version without group logs (before 4):
    use a relay that was updated, or another relay for the group."""

    code: ClassVar[int] = ErrorCode.LOGS_UNSUPPORTED


class TooManyLogs(CommandError):
    """This connection made ``max_queues_per_connection`` logs already (``LNEW``);
    a client that really needs more opens another connection."""

    code: ClassVar[int] = ErrorCode.TOO_MANY_LOGS


class InvalidLogCredentials(RelayProtocolError):
    """Group-log credentials (admin, reader or writer) are malformed: whoever handed them
    over sent bad ones; ask for them again."""

    code: ClassVar[int] = ErrorCode.INVALID_LOG_CREDENTIALS


class StoreFailed(RelayLocalError):
    """The queue store could not read or commit; the relay cannot keep its promises.

    Not a peer's fault: commands waiting on the failed commit get ``ERR INTERNAL``.
    Check the disk (space, permissions) under the relay's data directory.
    """

    code: ClassVar[int] = ErrorCode.STORE


class InvalidRelayConfig(RelayLocalError, ValueError):
    """``config.toml`` is missing, malformed or holds a value out of range."""

    code: ClassVar[int] = ErrorCode.INVALID_CONFIG


_COMMAND_ERRORS: dict[int, type[CommandError]] = {
    cls.code: cls
    for cls in (
        BadCommand,
        UnknownCommand,
        AuthFailed,
        QuotaExceeded,
        NoMessage,
        MessageTooLarge,
        CommandProhibited,
        InternalError,
        TooManyQueues,
        LogFull,
        TooManyMembers,
        NoSuchMember,
        EntryNotPosted,
        TooManyLogs,
    )
}


def error_for_code(code: int) -> type[CommandError]:
    """Return the :class:`CommandError` class an ``ERR`` code stands for.

    Raises :class:`UnexpectedResponse` for a code the relay may not send.
    """
    try:
        return _COMMAND_ERRORS[code]
    except KeyError:
        raise UnexpectedResponse(f"relay sent unknown error code {code}") from None
