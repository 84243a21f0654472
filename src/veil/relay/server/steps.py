"""What a command leaves to do once its store changes are durable: data, no callbacks.

The queue core (:mod:`veil.relay.server.core`) turns each command into a
:class:`Step`: the store changes it needs, and an outcome that says what to
commit in memory and whom to answer once those changes are durable. The service
makes the changes durable, then hands the step back to the core's ``commit`` (or,
if the store failed, to ``undo``). Everything a step holds can be inspected.
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.relay.protocol import queue_responses as rsp
from veil.relay.server.queue_index import LiveQueue
from veil.relay.server.session import SessionState
from veil.relay.server.store.base import QueueRecord, StoreChange, StoredMessage

__all__ = [
    "Answer",
    "MessageAccepted",
    "MessageAcknowledged",
    "MessagesExpired",
    "Outcome",
    "QueueCreated",
    "QueueDeleted",
    "RecordChanged",
    "Step",
    "Subscribed",
]


@dataclass(frozen=True, slots=True)
class Answer:
    """Send ``response`` to ``session`` under the command's correlation and entity ids."""

    session: SessionState
    correlation_id: bytes
    entity_id: bytes
    response: rsp.Response


@dataclass(frozen=True, slots=True)
class QueueCreated:
    """``NEW``: index ``record`` as a live queue, then answer ``IDS``.

    Undone, the connection's count of created queues goes back down.
    """

    answer: Answer
    record: QueueRecord


@dataclass(frozen=True, slots=True)
class RecordChanged:
    """``KEY``, ``SKEY`` or ``OFF``: ``queue`` took its new record at once (later commands
    must see it); answer ``OK``. Undone, it gets ``previous`` back."""

    answer: Answer
    queue: LiveQueue
    previous: QueueRecord


@dataclass(frozen=True, slots=True)
class Subscribed:
    """``SUB``: make ``answer.session`` the subscriber of ``queue`` with ``window``."""

    answer: Answer
    queue: LiveQueue
    window: int


@dataclass(frozen=True, slots=True)
class MessageAccepted:
    """``SEND``: append ``message`` to ``queue`` (unless deleted meanwhile) and deliver.

    Undone, the send no longer counts against the quota.
    """

    answer: Answer
    queue: LiveQueue
    message: StoredMessage


@dataclass(frozen=True, slots=True)
class MessageAcknowledged:
    """``ACK``: ``message`` left ``queue`` already (from ``index``); answer ``OK``.

    Undone, it goes back where it was, in flight again if it was.
    """

    answer: Answer
    queue: LiveQueue
    index: int
    message: StoredMessage
    was_in_flight: bool


@dataclass(frozen=True, slots=True)
class QueueDeleted:
    """``DEL``: ``queue`` left the index already; end its subscription, answer ``OK``.

    Undone, it is indexed again with its ``messages``.
    """

    answer: Answer
    queue: LiveQueue
    messages: list[StoredMessage]


@dataclass(frozen=True, slots=True)
class MessagesExpired:
    """A retention sweep: ``queues`` lost messages; deliver what follows to subscribers."""

    queues: tuple[LiveQueue, ...]


Outcome = (
    Answer
    | QueueCreated
    | RecordChanged
    | Subscribed
    | MessageAccepted
    | MessageAcknowledged
    | QueueDeleted
    | MessagesExpired
)


@dataclass(frozen=True, slots=True)
class Step:
    """One command's durable ``changes`` and the ``outcome`` to commit after them.

    ``outcome`` is an :data:`Outcome` of the queue core, or an object of the
    extension that made the step (private routing's commands).
    """

    changes: tuple[StoreChange, ...]
    outcome: object
