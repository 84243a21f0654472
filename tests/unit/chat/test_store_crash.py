"""A writer killed with SIGKILL mid-stream leaves a store that reopens consistent:
every transaction it reported committed is there, and no half of any other is."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from veil.chat.profile import Profile
from veil.chat.store import ChatStore, ContactStatus, KdfParams

PASSPHRASE = "crash"
WRITER = Path(__file__).with_name("crash_writer.py")
KILLS = 3
COMMITS_BEFORE_KILL = 25


def prepare(path: Path) -> None:
    store = ChatStore.create(path, PASSPHRASE, kdf=KdfParams(1, 1, 8))
    with store, store.transaction() as tx:
        contact = tx.contacts.add(Profile("Bob"), ContactStatus.CONNECTED, now=0.0)
        connection = tx.connections.add(
            phase="connected",
            agent_version=1,
            receive_queue_id=b"q" * 24,
            queue_state=b"",
            envelope_state=b"0",
            ratchet_state=b"0",
            now=0.0,
        )
        tx.connections.set_contact(connection.connection_id, contact.contact_id)


def run_until_killed(path: Path) -> int:
    """Start the writer, let it commit a few transactions, SIGKILL it; return the last
    counter it reported as committed."""
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), str(path), PASSPHRASE], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None
    reported = [int(writer.stdout.readline()) for _ in range(COMMITS_BEFORE_KILL)]
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    return reported[-1]


@pytest.mark.slow
def test_sigkilled_writer_leaves_a_consistent_store(tmp_path: Path) -> None:
    path = tmp_path / "veil.db"
    prepare(path)
    for _ in range(KILLS):
        reported = run_until_killed(path)
        with ChatStore.open(path, PASSPHRASE) as store, store.transaction() as tx:
            (connection,) = tx.connections.list()
            committed = int(connection.envelope_state)
            history = tx.messages.history(tx.connections.contact_of(connection.connection_id) or 0)
            outbox = tx.outbox.for_connection(connection.connection_id)
        assert committed >= reported  # acknowledged commits survived the kill
        assert connection.ratchet_state == connection.envelope_state
        assert [m.sequence for m in history] == list(range(1, committed + 1))
        assert [int(p.body) for p in outbox] == list(range(1, committed + 1))
