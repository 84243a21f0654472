"""The repair flow of a connection: offering, accepting and the restore repair.

Split from :mod:`veil.agent.connection` (which calls these on a working copy of
itself). Repair frames are sealed by :class:`~veil.agent.repair.RepairAuth`: with
the agreement's repair key at agent version 1, with a ratchet repair key that heals
at agent version 2.

A side restored from a backup sends an offer flagged ``restored``
(:func:`offer`). Its peer accepts such an offer at once, without asking its user,
when it came under a ratchet repair key still in the peer's window: only the
holder of a recent state of this very connection can make one, and the new keys
are authenticated by the old session (docs/protocol/agent.md, "Backup and restore").
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from veil.agent.effects import AGENT_VERSIONS, Effects, Phase, SendFrame
from veil.agent.errors import ConnectionNotReady, RepairRejected, RepairUnavailable, UnexpectedFrame
from veil.agent.events import ConnectionRepaired, RepairRequested
from veil.agent.frames import Frame, FrameKind
from veil.agent.payloads import Hello, RepairAccept, RepairOffer
from veil.agent.repair import RepairAuth, RepairKeys
from veil.crypto import RandomSource
from veil.ratchet.agreement import InvitationKeys, InvitationSecrets, ReplyKeys
from veil.ratchet.agreement import join as join_agreement
from veil.ratchet.repair_keys import RepairKey

if TYPE_CHECKING:
    from veil.agent.connection import Connection

__all__ = [
    "accept",
    "offer",
    "on_repair_accept",
    "on_repair_offer",
    "restore",
    "uses_ratchet_keys",
]

_RATCHET_KEYS_FROM_VERSION = 2


def uses_ratchet_keys(connection: Connection) -> bool:
    """Whether repair frames use the ratchet's healing keys (agent version 2)."""
    return connection.agent_version >= _RATCHET_KEYS_FROM_VERSION


def _auth(connection: Connection) -> RepairAuth:
    auth = connection.queues.repair_auth
    if auth is None:
        raise RepairUnavailable(
            "this connection was stored before repairs were authenticated and keeps no "
            "repair key: connect to the contact again with a new invitation"
        )
    return auth


def _seal(
    sealer: Connection,
    auth: RepairAuth,
    kind: FrameKind,
    payload: bytes,
    rng: RandomSource,
    *,
    key_id: bytes = b"",
) -> tuple[RepairAuth, bytes]:
    """Seal a repair frame with ``sealer``'s keys: at agent version 2 under the ratchet
    key named ``key_id`` (default: the newest shared one), at version 1 under the
    agreement's key."""
    if not uses_ratchet_keys(sealer):
        auth, body = auth.seal(kind, payload, rng)
        return auth, sealer.frame(kind, body, rng)
    assert sealer.ratchet is not None  # an established connection has one
    key = sealer.ratchet.repair_key()
    if key_id:
        named = sealer.ratchet.repair_key_for(key_id)
        key = None if named is None else RepairKey(key_id, named, shared=True)
    if key is None:
        raise RepairUnavailable(
            "this connection keeps no repair key recent enough: connect to the contact "
            "again with a new invitation"
        )
    auth, body = auth.seal(kind, payload, rng, key)
    return auth, sealer.frame(kind, body, rng)


def _open(connection: Connection, frame: Frame) -> tuple[RepairAuth, bytes, bytes]:
    """Authenticate a repair frame; return the key state with its counter accepted
    (stored by the caller once the whole frame checked out), the payload and the id
    of the ratchet key it came under (empty at agent version 1)."""
    auth = connection.queues.repair_auth
    if auth is None:
        raise RepairRejected("this connection keeps no repair key (stored before v4)")
    keys: RepairKeys | None = None
    if uses_ratchet_keys(connection):
        assert connection.ratchet is not None
        keys = connection.ratchet.repair_key_for
    return auth.open(frame.kind, frame.body, keys)


def offer(
    connection: Connection, rng: RandomSource, *, restored: bool = False
) -> tuple[Connection, Effects]:
    """Offer the peer fresh ratchet keys over the existing queues; ``restored``
    marks the automatic offer after a restore. Returns the new state and the frame."""
    send = connection.queues.send
    if connection.phase not in (Phase.CONNECTED, Phase.REPAIR_OFFERED) or send is None:
        raise ConnectionNotReady("only an established connection can be repaired")
    if restored and not uses_ratchet_keys(connection):
        raise RepairUnavailable("a connection made before agent version 2 cannot self-repair")
    auth = _auth(connection)
    secrets = InvitationSecrets.generate(rng, pq=auth.pq)
    resume_after = connection.tracker.last_received if restored else 0
    payload = RepairOffer(connection.agent_version, secrets.public.encode(), restored, resume_after)
    auth, frame = _seal(connection, auth, FrameKind.REPAIR_OFFER, payload.to_bytes(), rng)
    draft = connection.copy(rng)
    draft.queues = replace(
        connection.queues, invitation_secret=secrets.to_bytes(), repair_auth=auth
    )
    draft.phase = Phase.REPAIR_OFFERED
    return draft, Effects((SendFrame(send, frame),))


def accept(connection: Connection, rng: RandomSource) -> tuple[Connection, Effects]:
    """Accept the peer's repair offer: re-agree, and answer with a first new message."""
    draft = connection.copy(rng)
    effects = _accept_into(draft, rng)
    return draft, effects


def _accept_into(draft: Connection, rng: RandomSource) -> Effects:
    offered, send = draft.queues.repair_offer, draft.queues.send
    if draft.phase is not Phase.REPAIR_REQUESTED or offered is None or send is None:
        raise ConnectionNotReady("the contact has not offered a repair")
    # The answer is sealed with the key the offer came under: the offerer checks
    # it before it learns the new agreement (which brings a new repair key).
    old_auth, key_id = _auth(draft), draft.queues.repair_offer_key_id
    reply, agreement = join_agreement(InvitationKeys.decode(offered), rng)
    sealing = replace(draft)  # keeps the old ratchet (restart replaces, never mutates it)
    draft.restart(agreement, rng)
    answer = RepairAccept(reply.encode(), draft.encrypt_payload(Hello(draft.profile)))
    draft.phase = Phase.CONNECTED
    _, frame = _seal(
        sealing, old_auth, FrameKind.REPAIR_ACCEPT, answer.to_bytes(), rng, key_id=key_id
    )
    return Effects((SendFrame(send, frame),), (ConnectionRepaired(),))


def on_repair_offer(connection: Connection, frame: Frame, rng: RandomSource) -> Effects:
    """A peer's offer: store it for the user's consent, or accept a restore offer."""
    auth, body, key_id = _open(connection, frame)
    payload = RepairOffer.from_bytes(body)
    if payload.agent_version not in AGENT_VERSIONS:
        raise UnexpectedFrame(f"repair offer for agent version {payload.agent_version}")
    keys = InvitationKeys.decode(payload.ratchet_invitation)  # reject garbage before storing
    if auth.pq and keys.kem_public is None:
        raise RepairRejected("repair offer drops the post-quantum (ML-KEM) key")
    # Our own offer (if the two crossed) stays valid: whichever side consents
    # first wins, and the other completes on its answer.
    connection.queues = replace(
        connection.queues,
        repair_offer=payload.ratchet_invitation,
        repair_offer_key_id=key_id,
        repair_auth=auth,
    )
    connection.phase = Phase.REPAIR_REQUESTED
    if payload.restored and key_id:
        effects = _accept_into(connection, rng)
        repaired = ConnectionRepaired(automatic=True, resend_after=payload.resume_after)
        return Effects(effects.actions, (repaired,))
    return Effects(events=(RepairRequested(),))


def on_repair_accept(connection: Connection, frame: Frame, rng: RandomSource) -> Effects:
    """The answer to our offer: accept the reply keys and start the new ratchet."""
    if connection.queues.invitation_secret is None:
        raise UnexpectedFrame("a repair answer without an offer of ours")
    # The key state is not stored: the new agreement brings a new repair key.
    auth, body, _ = _open(connection, frame)
    answer = RepairAccept.from_bytes(body)
    secrets = InvitationSecrets.from_bytes(connection.queues.invitation_secret)
    agreement = secrets.accept(ReplyKeys.decode(answer.ratchet_reply))
    if auth.pq and not agreement.pq:
        raise RepairRejected("repair answer drops the post-quantum (ML-KEM) secret")
    connection.restart(agreement, rng)
    payload = connection.decrypt_payload(answer.first_message)
    if not isinstance(payload, Hello):
        raise UnexpectedFrame("a repair answer must start with a hello")
    return Effects(events=(ConnectionRepaired(),))


def restore(connection: Connection, rng: RandomSource) -> tuple[Connection, Effects]:
    """Apply the restore rule to a connection rebuilt from a backup.

    The ratchet may not send before its next DH turn (``mark_restored``: its current
    chain's keys may have been used after the backup); the repair counter jumps past
    anything sent since; an established agent-version-2 connection then offers a
    restore repair, which its peer accepts without asking.
    """
    draft = connection.copy(rng)
    if draft.ratchet is not None:
        draft.ratchet.mark_restored()
    auth = draft.queues.repair_auth
    if auth is not None:
        draft.queues = replace(draft.queues, repair_auth=auth.restored())
    established = draft.phase in (Phase.CONNECTED, Phase.REPAIR_OFFERED, Phase.REPAIR_REQUESTED)
    if not (established and uses_ratchet_keys(draft) and auth is not None):
        return draft, Effects()
    if draft.phase is Phase.REPAIR_REQUESTED:
        draft.phase = Phase.CONNECTED  # the peer's pending offer is superseded by ours
    return offer(draft, rng, restored=True)
