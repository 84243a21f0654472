"""Client store benchmark: the commit the agent makes for every received message.

Each transaction stores a message and rewrites the connection's ratchet (3 KB, about
a post-quantum ratchet state) and envelope state, with ``synchronous = FULL`` on a
real file: the per-message cost of "acknowledge only after a durable local commit".
Also times opening a store with the default Argon2id parameters.

Run: ``python bench/store.py [--messages N]``; prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from veil.agent.store import ConnectionRecord
from veil.chat.profile import Profile
from veil.chat.store import ChatStore, ContactStatus, Direction, Receipt

RATCHET_STATE_SIZE = 3000


def prepare(store: ChatStore) -> tuple[int, ConnectionRecord]:
    with store.transaction() as tx:
        contact = tx.contacts.add(Profile("Bob"), ContactStatus.CONNECTED, now=0.0)
        connection = tx.connections.add(
            phase="connected",
            agent_version=1,
            receive_queue_id=b"q" * 24,
            queue_state=b"q" * 200,
            envelope_state=b"e" * 90,
            ratchet_state=b"r" * RATCHET_STATE_SIZE,
            now=0.0,
        )
        tx.connections.set_contact(connection.connection_id, contact.contact_id)
        return contact.contact_id, connection


def receive_commits(
    store: ChatStore, contact_id: int, connection: ConnectionRecord, count: int
) -> float:
    """Commit ``count`` received messages with their state; return commits per second."""
    started = time.perf_counter()
    for sequence in range(1, count + 1):
        with store.transaction() as tx:
            tx.messages.add(
                contact_id=contact_id,
                message_id=sequence.to_bytes(16, "big"),
                direction=Direction.RECEIVED,
                sequence=sequence,
                text="a typical short chat message, about eighty bytes long, give or take",
                sent_at=float(sequence),
                received_at=float(sequence),
                receipt=Receipt.DELIVERED,
            )
            state = sequence.to_bytes(4, "big") * (RATCHET_STATE_SIZE // 4)
            connection = replace(connection, ratchet_state=state, envelope_state=state[:90])
            tx.connections.save(connection)
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as directory:
        path = Path(directory) / "veil.db"
        started = time.perf_counter()
        ChatStore.create(path, "benchmark passphrase").close()
        print("created store with default Argon2id parameters", file=sys.stderr)
        store = ChatStore.open(path, "benchmark passphrase")
        open_seconds = (time.perf_counter() - started) / 2
        with store:
            contact_id, connection = prepare(store)
            print(f"committing {args.messages} received messages", file=sys.stderr)
            rate = receive_commits(store, contact_id, connection, args.messages)
            started = time.perf_counter()
            with store.transaction() as tx:
                history = tx.messages.history(connection.contact_id or 0, limit=500)
            history_ms = (time.perf_counter() - started) * 1000
    result = {
        "receive_commits_per_s": round(rate),
        "history_500_ms": round(history_ms, 1),
        "history_rows": len(history),
        "open_with_default_kdf_ms": round(open_seconds * 1000),
        "kdf": "argon2id t=3 p=4 m=64MiB",
        "synchronous": "FULL",
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
