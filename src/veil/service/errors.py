"""Every error of the service and its API (codes 9xx), in one hierarchy.

:class:`ServiceError` is the base. Under it:

* :class:`ServiceLocalError` (also a :class:`~veil.errors.LocalError`): this machine
  or the caller — no service running, one already running, an unsafe address.
* :class:`ServiceProtocolError` (also a :class:`~veil.errors.ProtocolError`): the
  other end of an API connection sent something the API refuses. The service
  answers it with a JSON-RPC error and keeps serving everyone else.

The code table is in ``docs/protocol/service.md``; a test checks that they agree.
"""

from __future__ import annotations

from typing import ClassVar

from veil.errors import LocalError, ProtocolError, VeilError

__all__ = [
    "ApiVersionMismatch",
    "EventsPruned",
    "FrameTooLarge",
    "InvalidParams",
    "InvalidRequest",
    "MalformedFrame",
    "NotAuthenticated",
    "RemoteError",
    "ServiceAlreadyRunning",
    "ServiceClosed",
    "ServiceError",
    "ServiceLocalError",
    "ServiceNotRunning",
    "ServiceProtocolError",
    "TooManyRequests",
    "UnknownMethod",
    "UnsafeListenAddress",
]


class ServiceError(VeilError):
    """Base class of every service error."""

    code: ClassVar[int] = 900


class ServiceLocalError(ServiceError, LocalError):
    """This machine or the caller failed; the other end did nothing wrong."""

    code: ClassVar[int] = 901


class ServiceNotRunning(ServiceLocalError):
    """No ``veil serve`` answers for this profile."""

    code: ClassVar[int] = 902


class ServiceAlreadyRunning(ServiceLocalError):
    """Another ``veil serve`` already holds this profile."""

    code: ClassVar[int] = 903


class UnsafeListenAddress(ServiceLocalError):
    """``--listen`` named an address other machines can reach, without ``--allow-remote``."""

    code: ClassVar[int] = 904


class ServiceClosed(ServiceLocalError):
    """The connection to the service closed before the answer came."""

    code: ClassVar[int] = 905


class EventsPruned(ServiceLocalError):
    """The events after the given sequence number are no longer kept: read the history."""

    code: ClassVar[int] = 906


class ServiceProtocolError(ServiceError, ProtocolError):
    """The other end of an API connection broke the API."""

    code: ClassVar[int] = 950


class MalformedFrame(ServiceProtocolError):
    """A frame is not one JSON value (bad UTF-8, bad JSON, NaN, duplicate keys)."""

    code: ClassVar[int] = 951


class FrameTooLarge(ServiceProtocolError):
    """A frame is over the size cap."""

    code: ClassVar[int] = 952


class InvalidRequest(ServiceProtocolError):
    """A frame is JSON but not a JSON-RPC 2.0 request (or response)."""

    code: ClassVar[int] = 953


class UnknownMethod(ServiceProtocolError):
    """The request names a method the API does not have."""

    code: ClassVar[int] = 954


class InvalidParams(ServiceProtocolError):
    """The parameters are missing, unknown or of the wrong type."""

    code: ClassVar[int] = 955


class NotAuthenticated(ServiceProtocolError):
    """The connection did not start with ``hello`` and the right token."""

    code: ClassVar[int] = 956


class ApiVersionMismatch(ServiceProtocolError):
    """The client's API version range and the service's do not overlap."""

    code: ClassVar[int] = 957


class TooManyRequests(ServiceProtocolError):
    """The connection has too many requests waiting; slow down."""

    code: ClassVar[int] = 958


class RemoteError(ServiceProtocolError):
    """The service answered a call with an error; ``remote_code`` and ``kind`` say which."""

    code: ClassVar[int] = 959

    def __init__(self, message: str, remote_code: int, kind: str) -> None:
        super().__init__(message)
        self.remote_code = remote_code
        self.kind = kind
