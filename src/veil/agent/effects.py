"""The plain values around a connection: where it stands (:class:`Phase`), what an
input produces (relay actions to run and events: :class:`Effects`) and what an
invitation holds. A caller can inspect every effect before it commits the new
state that came with them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from veil.agent.events import AgentEvent
from veil.agent.payloads import QueueAddress
from veil.agent.queues import SendQueue
from veil.wire import VersionRange

__all__ = [
    "AGENT_VERSIONS",
    "Action",
    "Effects",
    "Invitation",
    "Phase",
    "SecurePeerQueue",
    "SendFrame",
]

AGENT_VERSIONS = VersionRange(1, 3)


class Phase(StrEnum):
    """Where a connection stands; the values are stored as they are."""

    INVITER_AWAITS_CONFIRMATION = "inviter_awaits_confirmation"
    JOINER_AWAITS_HELLO = "joiner_awaits_hello"
    CONNECTED = "connected"
    REPAIR_OFFERED = "repair_offered"
    REPAIR_REQUESTED = "repair_requested"


@dataclass(frozen=True, slots=True)
class SecurePeerQueue:
    """Run ``SKEY`` on the peer's queue with our fresh sender key."""

    queue: SendQueue


@dataclass(frozen=True, slots=True)
class SendFrame:
    """Run ``SEND`` of ``frame`` (exactly one padded frame) to the peer's queue."""

    queue: SendQueue
    frame: bytes


Action = SecurePeerQueue | SendFrame


@dataclass(frozen=True, slots=True)
class Effects:
    """What one input produced: relay actions to run in order, and events."""

    actions: tuple[Action, ...] = ()
    events: tuple[AgentEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class Invitation:
    """What the inviter publishes in a one-time link (the link codec encodes it)."""

    queue: QueueAddress
    link_key: bytes
    ratchet_invitation: bytes
    agent_versions: VersionRange = AGENT_VERSIONS
