"""File transfers in the event log, so API clients and bots follow them and resume by seq.

An offer that arrives is logged with the arrival itself (kind ``file``, ``id`` the
transfer's row, by the conversation). The transfers then log:

* ``file-progress``: ``text`` is ``up DONE/TOTAL`` or ``down DONE/TOTAL`` (chunks),
  at most once per :data:`PROGRESS_STEP_PERCENT` percent and always at the end;
* ``file-done``: ``text`` is the saved path (a download) or the name sent;
* ``file-failed``: ``text`` says why; running the same transfer again resumes it.

``contact`` is the other side's alias. ``id`` is the transfer's row (``file.list``),
except for an upload: its row exists only once its offer goes out, so its progress
and failure carry ``None`` and its ``file-done`` the new row.
"""

from __future__ import annotations

from collections.abc import Callable

from veil.agent.file_transfers import ChunkDone
from veil.chat.event_log import record_event
from veil.chat.store import ChatStore

__all__ = ["PROGRESS_STEP_PERCENT", "TransferEvents"]

#: A transfer logs its progress at most once per this many percent.
PROGRESS_STEP_PERCENT = 5


class TransferEvents:
    """The events of one transfer with ``contact`` (row ``transfer_id``, if it has one)."""

    def __init__(
        self,
        store: ChatStore,
        clock: Callable[[], float],
        contact: str,
        transfer_id: int | None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._contact = contact
        self.transfer_id = transfer_id
        self._step = -1

    def progress(self, chunk: ChunkDone) -> None:
        """Log ``chunk`` if it crosses a step (the first and the last always do)."""
        step = chunk.done * 100 // max(chunk.total, 1) // PROGRESS_STEP_PERCENT
        if step == self._step and chunk.done != chunk.total:
            return
        self._step = step
        self._log("file-progress", f"{chunk.direction} {chunk.done}/{chunk.total}")

    def done(self, text: str) -> None:
        """The transfer finished: ``text`` is the saved path or the name sent."""
        self._log("file-done", text)

    def failed(self, error: BaseException) -> None:
        """The transfer stopped on ``error`` (it resumes when run again)."""
        self._log("file-failed", str(error) or type(error).__name__)

    def _log(self, kind: str, text: str) -> None:
        with self._store.transaction() as tx:
            record_event(tx, kind, self._contact, text, row_id=self.transfer_id, now=self._clock())
