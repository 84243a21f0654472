"""Comparing security codes (``veil verify``): our code, the one the contact reads
out, and the verdict, with the facts the code rests on (PQ, versions).

A typed code is checked for its length first: a truncated or mistyped code is the
user's slip, not an interception, so it neither warns nor clears the verified mark.
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.agent.runtime import Agent
from veil.agent.security import ConnectionSecurity
from veil.chat.contacts import connection_of
from veil.chat.errors import IncompleteSecurityCode
from veil.chat.store import ChatStore, Contact

__all__ = ["CODE_DIGITS", "CodeCheck", "check_code"]

CODE_DIGITS = 60


@dataclass(frozen=True, slots=True)
class CodeCheck:
    """The outcome of ``veil verify``: our code, the code typed in, and the verdict.

    ``pq`` says whether ML-KEM-768 protects the connection, ``code_version`` whether
    the code covers the identity keys only (1) or the whole agreement (2).
    """

    alias: str
    ours: str
    theirs: str | None
    verified: bool
    pq: bool = False
    ratchet_version: int = 1
    code_version: int = 1


def check_code(store: ChatStore, agent: Agent, contact: Contact, code: str | None) -> CodeCheck:
    """Compare ``code`` with ours; record the verdict. Without ``code``, show ours."""
    with store.transaction() as tx:
        connection_id = connection_of(tx, contact.contact_id)
    security = agent.security(connection_id)
    if code is None:
        return _check(contact, security, None, contact.verified)
    typed = "".join(ch for ch in code if ch.isdigit())
    if len(typed) != CODE_DIGITS:
        raise IncompleteSecurityCode(
            f"the code you typed has {len(typed)} digits; a security code has {CODE_DIGITS} "
            "(12 groups of 5): type it again in full"
        )
    matched = typed == security.code.digits
    with store.transaction() as tx:
        tx.contacts.set_verified(contact.contact_id, matched)
    return _check(contact, security, code, matched)


def _check(
    contact: Contact, security: ConnectionSecurity, theirs: str | None, verified: bool
) -> CodeCheck:
    return CodeCheck(
        contact.alias,
        str(security.code),
        theirs,
        verified,
        security.pq,
        security.ratchet_version,
        security.code_version,
    )
