"""A connection under test that follows its own new state.

:class:`~veil.agent.connection.Connection` never changes in place: every input
returns a new connection with its effects. A test that plays one side of a
conversation wants "the side as it is now", so :class:`Peer` keeps the newest
state and hands back the effects; its properties read the current state.
"""

from __future__ import annotations

from veil.agent.connection import Connection
from veil.agent.effects import Effects, Invitation, Phase, SendFrame
from veil.agent.envelope import EnvelopeTracker
from veil.agent.frames import Frame, FrameKind
from veil.agent.queue_frames import open_queue_frame, queue_key, seal_queue_frame
from veil.agent.queues import QueueState, ReceiveQueue
from veil.crypto import RandomSource
from veil.ratchet.double_ratchet import Ratchet
from veil.ratchet.security_code import SecurityCode


class Peer:
    """One side of a connection, rebound to the new state after every input."""

    def __init__(self, connection: Connection, rng: RandomSource) -> None:
        self.connection = connection
        self._rng = rng

    @property
    def phase(self) -> Phase:
        return self.connection.phase

    @property
    def queues(self) -> QueueState:
        return self.connection.queues

    @property
    def ratchet(self) -> Ratchet | None:
        return self.connection.ratchet

    @property
    def tracker(self) -> EnvelopeTracker:
        return self.connection.tracker

    @property
    def agent_version(self) -> int:
        return self.connection.agent_version

    def security_code(self) -> SecurityCode:
        return self.connection.security_code()

    def receive(self, data: bytes, rng: RandomSource) -> Effects:
        self.connection, effects = self.connection.receive(data, rng)
        return effects

    def send_chat(self, event: bytes) -> SendFrame:
        self.connection, ((_, frame),) = self.connection.send_chats([event], self._rng)
        return frame

    def offer_repair(self, rng: RandomSource) -> Effects:
        self.connection, effects = self.connection.offer_repair(rng)
        return effects

    def accept_repair(self, rng: RandomSource) -> Effects:
        self.connection, effects = self.connection.accept_repair(rng)
        return effects

    def frame_to_me(self, kind: FrameKind, body: bytes) -> bytes:
        """A frame sealed to this peer's receive queue as its peer would seal it
        (agent version 3), to feed frames of any kind past the queue frame layer."""
        return seal_queue_frame(self._queue_key(), kind, body, self._rng)

    def open_mine(self, frame: bytes) -> Frame:
        """Open a frame sealed to this peer's receive queue (agent version 3)."""
        return open_queue_frame(self._queue_key(), frame)

    def _queue_key(self) -> bytes:
        return queue_key(self.queues.frame_secret, self.queues.receive.sender_id)


def invite_peer(
    receive: ReceiveQueue, profile: bytes, rng: RandomSource, *, pq: bool = True
) -> tuple[Peer, Invitation]:
    """:meth:`Connection.invite`, as a :class:`Peer`."""
    connection, invitation = Connection.invite(receive, profile, rng, pq=pq)
    return Peer(connection, rng), invitation


def join_peer(
    invitation: Invitation, receive: ReceiveQueue, profile: bytes, rng: RandomSource
) -> tuple[Peer, Effects]:
    """:meth:`Connection.join`, as a :class:`Peer`."""
    connection, effects = Connection.join(invitation, receive, profile, rng)
    return Peer(connection, rng), effects
