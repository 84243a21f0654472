"""Helper process for test_store_crash.py: commits transactions until it is killed.

Each transaction writes a message, the connection's ratchet/envelope state and an
outbox row that all carry the same counter, then prints the counter once committed.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from veil.chat.store import ChatStore, Direction, Receipt


def main(path: Path, passphrase: str) -> None:
    store = ChatStore.open(path, passphrase)
    with store.transaction() as tx:
        (connection,) = tx.connections.list()
        contact_id = tx.connections.contact_of(connection.connection_id) or 0
        done = int(connection.envelope_state)
    padding = "x" * 4000  # big rows, so a kill often lands mid-write
    while True:
        done += 1
        with store.transaction() as tx:
            tx.messages.add(
                contact_id=contact_id,
                message_id=done.to_bytes(16, "big"),
                direction=Direction.RECEIVED,
                sequence=done,
                text=f"{done} {padding}",
                sent_at=float(done),
                receipt=Receipt.DELIVERED,
            )
            connection = replace(
                connection, ratchet_state=str(done).encode(), envelope_state=str(done).encode()
            )
            tx.connections.save(connection)
            tx.outbox.enqueue(connection.connection_id, str(done).encode(), now=float(done))
        print(done, flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
