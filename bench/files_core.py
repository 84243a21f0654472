"""Benchmark: the file-transfer core moving a whole file, disk to disk, with real processes.

A sender process encrypts the file once into a staging file (STREAM, AES-256-GCM),
registers and uploads every chunk piece by piece into a relay chunk store (each body
fsynced before it is acknowledged); a recipient process fetches every chunk
re-encrypted per download, checks its digest, decrypts and writes it at its offset,
syncing each. Both are ``tests/helpers/file_transfer.py``, the reference adapter; no
network yet (the relay's file commands are to be wired), so this measures the cost of
the crypto, the store and the disk, not of TLS.

Figures: ``send_mib_per_s`` (staging + upload), ``receive_mib_per_s``,
``peak_rss_mib`` of each process, and whether the SHA-256 of the result matches.

Usage: ``python bench/files_core.py [--mib N] [--dir DIR]`` (default 1024 MiB); prints
one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import relay_support  # noqa: F401 - makes the tests' helpers importable
from helpers.file_relays import sha256_of

DRIVER = Path(__file__).resolve().parents[1] / "tests" / "helpers" / "file_transfer.py"
BLOCK = 1 << 20


def make_source(path: Path, mib: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        for _ in range(mib):
            block = os.urandom(BLOCK)
            digest.update(block)
            handle.write(block)
    return digest.hexdigest()


def timed_child(*args: str) -> tuple[float, float]:
    """Run the driver; return (seconds, that child's peak RSS in MiB)."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, str(DRIVER), *args], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{args[0]} failed with {child.returncode}")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--dir", type=Path, default=None)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=options.dir) as folder:
        root = Path(folder)
        for name in ("store", "sender", "recipient"):
            (root / name).mkdir()
        source = root / "source.bin"
        expected = make_source(source, options.mib)
        send_s, send_rss = timed_child(
            "send", str(source), str(root / "store"), str(root / "sender")
        )
        (root / "recipient" / "description").write_bytes(
            (root / "sender" / "description").read_bytes()
        )
        out = root / "out.bin"
        receive_s, receive_rss = timed_child(
            "receive", str(root / "store"), str(root / "recipient"), str(out)
        )
        result = {
            "file_mib": options.mib,
            "send_seconds": round(send_s, 2),
            "send_mib_per_s": round(options.mib / send_s, 1),
            "receive_seconds": round(receive_s, 2),
            "receive_mib_per_s": round(options.mib / receive_s, 1),
            "peak_rss_mib_sender": round(send_rss, 1),
            "peak_rss_mib_recipient": round(receive_rss, 1),
            "sha256_matches": sha256_of(out) == expected,
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
