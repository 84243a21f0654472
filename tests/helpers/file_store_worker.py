"""A process that uploads chunks into a FileChunkStore forever, printing each ack.

    python file_store_worker.py ROOT

Each line ``acked <recipient id hex> <sha256 hex>`` is printed only after ``put``
returned, so the parent may kill this process at any moment and then check that every
chunk it saw acknowledged is in the store, whole.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

from veil.crypto.random import SystemRandom
from veil.relay.server.file_store import FileChunkStore

CHUNK = 1024 * 1024


def main() -> None:
    rng = SystemRandom()
    store = FileChunkStore(Path(sys.argv[1]), quota_bytes=1 << 40, clock=time.time, rng=rng)
    while True:
        data = rng.random_bytes(CHUNK)
        digest = hashlib.sha256(data).digest()
        ids = store.register(CHUNK, digest, bytes(32), [bytes(32)])
        pieces = (data[i : i + 16384] for i in range(0, CHUNK, 16384))
        store.put(ids.sender_id, pieces)
        print("acked", ids.recipient_ids[0].hex(), digest.hex(), flush=True)


if __name__ == "__main__":
    main()
