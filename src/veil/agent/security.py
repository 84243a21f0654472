"""What a connection's security rests on, as the user sees it: the security code,
whether the connection is post-quantum, and the ratchet version it runs."""

from __future__ import annotations

from dataclasses import dataclass

from veil.agent.connection import Connection
from veil.agent.errors import ConnectionNotReady
from veil.ratchet.security_code import SecurityCode

__all__ = ["ConnectionSecurity", "security_of"]


@dataclass(frozen=True, slots=True)
class ConnectionSecurity:
    """``code`` to compare out of band; ``pq`` whether ML-KEM-768 protects the
    session; ``ratchet_version`` the version of this side's sending chain."""

    code: SecurityCode
    pq: bool
    ratchet_version: int

    @property
    def code_version(self) -> int:
        """1: the code covers the identity keys; 2: the whole agreement transcript."""
        return self.code.qr_payload[0]


def security_of(connection: Connection) -> ConnectionSecurity:
    """The security facts of an established (or joining) connection."""
    if connection.ratchet is None:
        raise ConnectionNotReady("no keys are agreed yet")
    ratchet = connection.ratchet
    return ConnectionSecurity(connection.security_code(), ratchet.config.pq, ratchet.version)
