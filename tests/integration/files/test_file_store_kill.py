"""An acknowledged chunk survives ``kill -9`` of the process storing it."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from veil.crypto.random import SystemRandom
from veil.relay.server.file_store import FileChunkStore

WORKER = Path(__file__).resolve().parents[2] / "helpers" / "file_store_worker.py"


@pytest.mark.slow
@pytest.mark.parametrize("acks_before_kill", [1, 6])
def test_acknowledged_chunks_survive_kill_9_mid_upload(
    tmp_path: Path, acks_before_kill: int
) -> None:
    worker = subprocess.Popen(
        [sys.executable, str(WORKER), str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    acked: list[tuple[str, str]] = []
    assert worker.stdout is not None
    try:
        while len(acked) < acks_before_kill:
            line = worker.stdout.readline()
            assert line, "the worker stopped before acknowledging enough chunks"
            _, recipient, digest = line.split()
            acked.append((recipient, digest))
    finally:
        os.kill(worker.pid, signal.SIGKILL)  # very likely in the middle of the next put
        worker.wait()
    assert worker.returncode == -signal.SIGKILL
    for line in worker.stdout:  # acknowledgements still in the pipe when it died
        _, recipient, digest = line.split()
        acked.append((recipient, digest))
    store = FileChunkStore(tmp_path, quota_bytes=1 << 40, clock=time.time, rng=SystemRandom())
    assert not [p for p in (tmp_path / "bodies").iterdir() if p.suffix == ".part"]
    for recipient, digest in acked:
        data = b"".join(store.read(bytes.fromhex(recipient)))
        assert hashlib.sha256(data).hexdigest() == digest
    stored = len(list((tmp_path / "bodies").iterdir()))
    assert len(acked) <= stored <= len(acked) + 1  # at most the one put in flight landed
