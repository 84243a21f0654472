"""One connection's handshake and message flow, as a sans-I/O state machine.

A :class:`Connection` never touches a socket, a clock or a global random source:
the runtime feeds it frames that arrived on its receive queue and asks it to
encrypt outgoing chat events, and it answers with :data:`Action` values (relay
commands to run, in order) and :data:`AgentEvent` values (what happened).

States and transitions (anything not in the table is an :class:`UnexpectedFrame`):

=============================  ===============  ==============================
state                          input frame      next state
=============================  ===============  ==============================
INVITER_AWAITS_CONFIRMATION    CONFIRMATION     CONNECTED (secure + send hello)
JOINER_AWAITS_HELLO            RATCHET_MESSAGE  CONNECTED
CONNECTED                      RATCHET_MESSAGE  CONNECTED
CONNECTED                      CONFIRMATION     CONNECTED (redelivery, dropped)
CONNECTED                      REPAIR_ACCEPT    CONNECTED (redelivery, dropped)
CONNECTED, REPAIR_*            REPAIR_OFFER     REPAIR_REQUESTED (await consent)
REPAIR_OFFERED, REPAIR_REQ...  REPAIR_ACCEPT    CONNECTED (new keys; needs our offer)
REPAIR_OFFERED, REPAIR_REQ...  RATCHET_MESSAGE  unchanged (old keys still tried)
=============================  ===============  ==============================

The joiner reaches JOINER_AWAITS_HELLO from :meth:`Connection.join`, which returns
the actions that secure the inviter's queue and send the confirmation. Repair (a
re-agreement of keys over the existing queues, with both users' consent) starts with
:meth:`Connection.offer_repair` and completes with :meth:`Connection.accept_repair`
on the other side. Repair frames are sealed with the repair key of the current
agreement (:mod:`veil.agent.repair`), so a relay can neither read nor forge them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from veil.agent import repair_flow
from veil.agent.effects import (
    AGENT_VERSIONS,
    Effects,
    Invitation,
    Phase,
    SecurePeerQueue,
    SendFrame,
)
from veil.agent.envelope import EnvelopeTracker, OpenedEnvelope
from veil.agent.errors import (
    ConnectionNotReady,
    FrameNotOpened,
    MalformedFrame,
    UnexpectedFrame,
)
from veil.agent.events import (
    ChatEventReceived,
    ConnectionEstablished,
    DuplicateDropped,
    PeerConfirmed,
)
from veil.agent.frames import (
    Frame,
    FrameKind,
    decode_frame,
    encode_frame,
    fill,
    open_sealed,
    seal,
    unfill,
)
from veil.agent.payloads import (
    AgentPayload,
    ChatPayload,
    Confirmation,
    ConnectInfo,
    Hello,
    decode_payload,
    encode_payload,
)
from veil.agent.queue_frames import (
    QUEUE_FRAMES_FROM,
    frame_secret,
    open_queue_frame,
    queue_key,
    seal_queue_frame,
)
from veil.agent.queues import Identities, QueueState, ReceiveQueue, SendQueue
from veil.agent.repair import RepairAuth
from veil.crypto import RandomSource, X25519KeyPair
from veil.ratchet.agreement import Agreement, InvitationKeys, InvitationSecrets, ReplyKeys
from veil.ratchet.agreement import join as join_agreement
from veil.ratchet.double_ratchet import Ratchet
from veil.ratchet.errors import DuplicateMessage
from veil.ratchet.security_code import SecurityCode

__all__ = ["Connection", "Phase"]

_P = TypeVar("_P", Hello, ChatPayload)
_AUTH_KEY_SIZE = 32
_HYBRID_SEAL_FROM = 2  # agent version whose confirmations are sealed with ML-KEM too


@dataclass(slots=True)
class Connection:
    """The state of one connection.

    Persisted as four parts the store commits together: :attr:`phase`,
    :attr:`queues` (``QueueState.to_bytes``), the ratchet (``Ratchet.to_bytes``)
    and the envelope :attr:`tracker` (``EnvelopeTracker.to_bytes``).
    """

    phase: Phase
    queues: QueueState
    profile: bytes
    agent_version: int = AGENT_VERSIONS.maximum
    ratchet: Ratchet | None = None
    tracker: EnvelopeTracker = field(default_factory=EnvelopeTracker)

    @classmethod
    def invite(
        cls, receive: ReceiveQueue, profile: bytes, rng: RandomSource, *, pq: bool = True
    ) -> tuple[Connection, Invitation]:
        """Start a connection as the inviter; return it and the link's contents."""
        link_key = X25519KeyPair.generate(rng)
        secrets = InvitationSecrets.generate(rng, pq=pq)
        invitation = Invitation(receive.address, link_key.public, secrets.public.encode())
        queues = QueueState(
            receive,
            link_key=link_key.private,
            invitation_secret=secrets.to_bytes(),
            frame_secret=frame_secret(invitation.link_key, invitation.ratchet_invitation),
        )
        return cls(Phase.INVITER_AWAITS_CONFIRMATION, queues, profile), invitation

    @classmethod
    def join(
        cls, invitation: Invitation, receive: ReceiveQueue, profile: bytes, rng: RandomSource
    ) -> tuple[Connection, Effects]:
        """Accept an invitation as the joiner: secure its queue and send a confirmation."""
        version = AGENT_VERSIONS.agree(invitation.agent_versions)
        keys = InvitationKeys.decode(invitation.ratchet_invitation)
        reply, agreement = join_agreement(keys, rng)
        send = SendQueue(invitation.queue, rng.random_bytes(_AUTH_KEY_SIZE))
        queues = QueueState(
            receive,
            send,
            identities=Identities.from_agreement(agreement),
            repair_auth=RepairAuth.from_agreement(agreement),
            frame_secret=frame_secret(invitation.link_key, invitation.ratchet_invitation),
        )
        connection = cls(
            Phase.JOINER_AWAITS_HELLO, queues, profile, version, agreement.ratchet(rng)
        )
        first = connection.encrypt_payload(ConnectInfo(receive.address, profile))
        confirmation = Confirmation(version, reply.encode(), first)
        # From agent version 2 the confirmation is also sealed to the invitation's
        # ML-KEM key (F6): a recording of it stays secret against a quantum attacker.
        kem_public = keys.kem_public if version >= _HYBRID_SEAL_FROM else None
        sealed = seal(invitation.link_key, confirmation.to_bytes(), rng, kem_public=kem_public)
        frame = connection.frame(FrameKind.CONFIRMATION, sealed, rng)
        return connection, Effects((SecurePeerQueue(send), SendFrame(send, frame)))

    def copy(self, rng: RandomSource) -> Connection:
        """An independent copy to work on: the ratchet is restored from its bytes and
        the tracker copied, so nothing done to the copy reaches this object."""
        ratchet = None if self.ratchet is None else Ratchet.from_bytes(self.ratchet.to_bytes(), rng)
        return replace(self, ratchet=ratchet, tracker=self.tracker.copy())

    def receive(self, data: bytes, rng: RandomSource) -> tuple[Connection, Effects]:
        """Process one frame from the receive queue; return the new state and effects.

        The work happens on a copy: this object never changes. A frame that must be
        dropped raises a :class:`~veil.errors.ProtocolError` subclass, and then there
        is no new state at all, so a caller has nothing to undo.
        """
        frame = self._open_frame(data)
        transition = _TRANSITIONS.get((self.phase, frame.kind))
        if transition is None:
            raise UnexpectedFrame(f"{frame.kind.name} frame in phase {self.phase.value}")
        handler, next_phase = transition
        draft = self.copy(rng)
        effects = handler(draft, frame, rng)
        if next_phase is not None:  # None: the handler chose the phase itself
            draft.phase = next_phase
        return draft, effects

    def send_chats(
        self, events: Sequence[bytes], rng: RandomSource
    ) -> tuple[Connection, list[tuple[int, SendFrame]]]:
        """Encrypt chat events for the peer, in order; return the new state and, per
        event, its envelope sequence number and frame. Only a CONNECTED connection sends."""
        if self.phase is not Phase.CONNECTED or self.queues.send is None:
            raise ConnectionNotReady("the connection is not established yet")
        draft, sent = self.copy(rng), []
        for event in events:
            frame = SendFrame(self.queues.send, draft._ratchet_frame(ChatPayload(event), rng))
            sent.append((draft.tracker.last_sent, frame))
        return draft, sent

    def offer_repair(
        self, rng: RandomSource, *, restored: bool = False
    ) -> tuple[Connection, Effects]:
        """Offer the peer fresh ratchet keys over the existing queues (after a desync,
        or automatically after a restore); return the new state and the offer to send."""
        return repair_flow.offer(self, rng, restored=restored)

    def accept_repair(self, rng: RandomSource) -> tuple[Connection, Effects]:
        """Accept the peer's repair offer: re-agree, and answer with a first new message;
        return the new state and the answer to send."""
        return repair_flow.accept(self, rng)

    def restart(self, agreement: Agreement, rng: RandomSource) -> None:
        """Replace keys, ratchet and envelope chains with those of a new agreement."""
        self.queues = replace(
            self.queues,
            identities=Identities.from_agreement(agreement),
            invitation_secret=None,
            repair_offer=None,
            repair_offer_key_id=b"",
            repair_auth=RepairAuth.from_agreement(agreement),
        )
        self.ratchet = agreement.ratchet(rng)
        self.tracker = EnvelopeTracker()

    def security_code(self) -> SecurityCode:
        """The code both sides compare out of band to rule out a man in the middle."""
        identities = self.queues.identities
        if identities is None:
            raise ConnectionNotReady("no keys are agreed yet")
        return identities.security_code()

    def _associated_data(self) -> bytes:
        assert self.queues.identities is not None  # set by the agreement
        return self.queues.identities.associated_data

    def encrypt_payload(self, payload: AgentPayload, *, filled: bool = False) -> bytes:
        """Ratchet-encrypt ``payload`` in the next envelope; ``filled`` pads it so the
        message fills a frame (an inner message needs not: its outer frame is filled)."""
        assert self.ratchet is not None  # every caller runs after the agreement
        plaintext = self.tracker.seal(encode_payload(payload))
        if filled:
            plaintext = fill(plaintext, self.ratchet.config.message_size(0))
        return self.ratchet.encrypt(plaintext, self._associated_data())

    def _ratchet_frame(self, payload: AgentPayload, rng: RandomSource) -> bytes:
        body = self.encrypt_payload(payload, filled=True)
        return self.frame(FrameKind.RATCHET_MESSAGE, body, rng)

    def frame(self, kind: FrameKind, body: bytes, rng: RandomSource) -> bytes:
        """A frame for the peer's queue: sealed to that queue from agent version 3
        (:mod:`veil.agent.queue_frames`), so its relay cannot tell its kind."""
        assert self.queues.send is not None  # only a connection with a peer queue sends
        key = self._queue_key(self.queues.send.address.sender_id)
        if key is None:
            return encode_frame(kind, body)
        return seal_queue_frame(key, kind, body, rng)

    def _queue_key(self, sender_id: bytes) -> bytes | None:
        if self.agent_version < QUEUE_FRAMES_FROM or not self.queues.frame_secret:
            return None
        return queue_key(self.queues.frame_secret, sender_id)

    def _open_frame(self, data: bytes) -> Frame:
        key = self._queue_key(self.queues.receive.sender_id)
        if key is None:
            return decode_frame(data)
        try:
            return open_queue_frame(key, data)
        except FrameNotOpened:
            # The joiner's version is not known before its confirmation: one at agent
            # version 1 or 2 sends it in the clear. Later, a clear frame is refused.
            if self.phase is not Phase.INVITER_AWAITS_CONFIRMATION:
                raise
            with contextlib.suppress(MalformedFrame):
                return decode_frame(data)
            raise

    def decrypt_payload(self, body: bytes) -> AgentPayload:
        """Decrypt an unfilled inner ratchet message (in a confirmation or repair answer)."""
        return self._decrypt(body)[0]

    def _decrypt(self, body: bytes, *, filled: bool = False) -> tuple[AgentPayload, OpenedEnvelope]:
        assert self.ratchet is not None
        plaintext = self.ratchet.decrypt(body, self._associated_data())
        opened = self.tracker.open(unfill(plaintext) if filled else plaintext)
        return decode_payload(opened.body), opened

    def _on_confirmation(self, frame: Frame, rng: RandomSource) -> Effects:
        queues = self.queues
        assert queues.link_key is not None and queues.invitation_secret is not None
        secrets = InvitationSecrets.from_bytes(queues.invitation_secret)
        confirmation = Confirmation.from_bytes(
            open_sealed(X25519KeyPair(queues.link_key), frame.body, secrets.kem)
        )
        if confirmation.agent_version not in AGENT_VERSIONS:
            raise UnexpectedFrame(f"agent version {confirmation.agent_version} not offered")
        # F5: an invitation that offered ML-KEM never accepts a classical reply.
        reply = ReplyKeys.decode(confirmation.ratchet_reply)
        agreement = secrets.accept(reply, require_pq=True)
        identities = Identities.from_agreement(agreement)
        repair_auth = RepairAuth.from_agreement(agreement)
        sealed_frames = confirmation.agent_version >= QUEUE_FRAMES_FROM
        self.queues = QueueState(
            queues.receive,
            identities=identities,
            repair_auth=repair_auth,
            frame_secret=queues.frame_secret if sealed_frames else b"",
        )
        self.ratchet = agreement.ratchet(rng)
        payload, _ = self._decrypt(confirmation.first_message)
        if not isinstance(payload, ConnectInfo):
            raise UnexpectedFrame("a confirmation must carry the joiner's reply queue")
        send = SendQueue(payload.reply_queue, rng.random_bytes(_AUTH_KEY_SIZE))
        self.queues = replace(self.queues, send=send)
        self.agent_version = confirmation.agent_version
        hello = self._ratchet_frame(Hello(self.profile), rng)
        events = (PeerConfirmed(payload.profile), ConnectionEstablished(payload.profile))
        return Effects((SecurePeerQueue(send), SendFrame(send, hello)), events)

    def _on_hello(self, frame: Frame, rng: RandomSource) -> Effects:
        accepted = self._accept(frame, Hello)
        if accepted is None:
            return Effects(events=(DuplicateDropped("message already decrypted"),))
        hello, _ = accepted
        return Effects(events=(ConnectionEstablished(hello.profile),))

    def _on_message(self, frame: Frame, rng: RandomSource) -> Effects:
        accepted = self._accept(frame, ChatPayload)
        if accepted is None:
            return Effects(events=(DuplicateDropped("message already decrypted"),))
        chat, opened = accepted
        received = ChatEventReceived(chat.event, opened.sequence, opened.integrity, opened.skipped)
        return Effects(events=(received,))

    def _accept(self, frame: Frame, expected: type[_P]) -> tuple[_P, OpenedEnvelope] | None:
        """Decrypt a ratchet frame carrying an ``expected`` payload.

        Returns ``None`` for a message the ratchet has already decrypted: the relay
        redelivers what was not acknowledged before a crash, and that is not an error.
        """
        try:
            payload, opened = self._decrypt(frame.body, filled=True)
        except DuplicateMessage:
            return None
        if not isinstance(payload, expected):
            raise UnexpectedFrame(f"expected {expected.__name__}, got {type(payload).__name__}")
        return payload, opened

    def _on_late_repair_accept(self, frame: Frame, rng: RandomSource) -> Effects:
        return Effects(events=(DuplicateDropped("repair answer redelivered after repairing"),))

    def _on_late_confirmation(self, frame: Frame, rng: RandomSource) -> Effects:
        return Effects(events=(DuplicateDropped("confirmation redelivered after connecting"),))


_Handler = Callable[[Connection, Frame, RandomSource], Effects]
_ESTABLISHED = (Phase.CONNECTED, Phase.REPAIR_OFFERED, Phase.REPAIR_REQUESTED)

_TRANSITIONS: dict[tuple[Phase, FrameKind], tuple[_Handler, Phase | None]] = {
    (Phase.INVITER_AWAITS_CONFIRMATION, FrameKind.CONFIRMATION): (
        Connection._on_confirmation,
        Phase.CONNECTED,
    ),
    (Phase.JOINER_AWAITS_HELLO, FrameKind.RATCHET_MESSAGE): (Connection._on_hello, Phase.CONNECTED),
    (Phase.CONNECTED, FrameKind.CONFIRMATION): (
        Connection._on_late_confirmation,
        Phase.CONNECTED,
    ),
    (Phase.CONNECTED, FrameKind.REPAIR_ACCEPT): (
        Connection._on_late_repair_accept,
        Phase.CONNECTED,
    ),
    # An established connection keeps its phase on a message (old keys still work).
    **{
        (phase, FrameKind.RATCHET_MESSAGE): (Connection._on_message, phase)
        for phase in _ESTABLISHED
    },
    **{
        (phase, FrameKind.REPAIR_OFFER): (repair_flow.on_repair_offer, None)
        for phase in _ESTABLISHED
    },
    **{
        (phase, FrameKind.REPAIR_ACCEPT): (repair_flow.on_repair_accept, Phase.CONNECTED)
        for phase in (Phase.REPAIR_OFFERED, Phase.REPAIR_REQUESTED)
    },
}
