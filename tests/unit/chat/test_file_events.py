"""A transfer's events: progress at most every few percent (first and last always),
then its outcome, each with the transfer's row."""

from __future__ import annotations

from pathlib import Path

from veil.agent.file_transfers import ChunkDone
from veil.chat.app import Messenger
from veil.chat.file_events import PROGRESS_STEP_PERCENT, TransferEvents
from veil.chat.store import KdfParams

FAST = KdfParams(iterations=1, lanes=1, memory_kib=64)
RELAY = "veil://" + "A" * 43 + "@relay.example"


def test_progress_is_logged_per_step_and_the_outcome_once(tmp_path: Path) -> None:
    store = Messenger.create(tmp_path, "pw", "alice", [RELAY], kdf=FAST)
    events = TransferEvents(store, lambda: 5.0, "bob", transfer_id=7)
    total = 400
    for done in range(1, total + 1):
        events.progress(ChunkDone("down", done - 1, done, total, 1024))
    events.done(str(tmp_path / "video.bin"))
    with store.transaction() as tx:
        logged = tx.events.since(0, 1000)
    progress = [e.text for e in logged if e.kind == "file-progress"]
    assert len(progress) == 100 // PROGRESS_STEP_PERCENT + 1  # 0-4%, 5%, ..., 100%
    assert progress[0] == "down 1/400" and progress[-1] == "down 400/400"
    assert logged[-1].kind == "file-done" and logged[-1].text.endswith("video.bin")
    assert {(e.contact, e.row_id, e.at) for e in logged} == {("bob", 7, 5.0)}
    store.close()


def test_a_failure_is_logged_with_its_reason(tmp_path: Path) -> None:
    store = Messenger.create(tmp_path, "pw", "alice", [RELAY], kdf=FAST)
    events = TransferEvents(store, lambda: 5.0, "bob", transfer_id=None)
    events.progress(ChunkDone("up", 0, 1, 3, 1024))
    events.failed(OSError("disk full"))
    with store.transaction() as tx:
        logged = [(e.kind, e.text, e.row_id) for e in tx.events.since(0, 10)]
    assert logged == [("file-progress", "up 1/3", None), ("file-failed", "disk full", None)]
    store.close()
