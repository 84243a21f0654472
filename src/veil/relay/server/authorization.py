"""Checking a transmission's authenticator against a queue's key, sans I/O.

Every queue command carries a MAC keyed by ``X25519(queue auth key, session key)``
(``docs/protocol/relay.md`` section 3): deniable, bound to the session, and cheap to
check once the derived key is cached for the session.
"""

from __future__ import annotations

from veil.crypto import InvalidKey, X25519KeyPair
from veil.relay.protocol.errors import AuthFailed, BadCommand
from veil.relay.protocol.queue_crypto import derive_auth_key, verify_authenticator
from veil.relay.protocol.transmission import Transmission
from veil.relay.server.session import SessionState

__all__ = ["DUMMY_AUTH_KEY", "authorize", "require_entity"]

DUMMY_AUTH_KEY = X25519KeyPair(bytes(range(32))).public
"""Stands in for the auth key of a missing queue, so failing costs the same work."""


def require_entity(transmission: Transmission, *, present: bool) -> None:
    """:class:`BadCommand` unless the transmission names an entity exactly when it must."""
    if bool(transmission.entity_id) != present:
        raise BadCommand("entity id missing" if present else "entity id not allowed")


def authorize(session: SessionState, transmission: Transmission, auth_key: bytes | None) -> None:
    """Check the authenticator; raise :class:`AuthFailed` (same work if no key).

    A derived MAC key is cached only after it verified, so only a key's owner
    ever takes the faster cached path; a prober always pays one DH + HKDF.
    """
    cached = session.auth_keys.get(auth_key) if auth_key is not None else None
    if cached is not None:
        mac_key = cached
    else:
        try:
            mac_key = derive_auth_key(session.session_key, auth_key or DUMMY_AUTH_KEY)
        except InvalidKey:
            mac_key = derive_auth_key(session.session_key, DUMMY_AUTH_KEY)
            auth_key = None
    valid = verify_authenticator(
        mac_key, session.session_id, transmission.authorized, transmission.authenticator
    )
    if not valid or auth_key is None:
        raise AuthFailed("not authorised")
    if cached is None:
        session.remember_auth_key(auth_key, mac_key)
