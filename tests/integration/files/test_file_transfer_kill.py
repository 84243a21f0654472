"""Whole transfers through a chunk store, with the sender or the recipient killed
(``kill -9``) in the middle and run again: the file arrives intact, and no chunk that
was finished before the kill is uploaded or downloaded again."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

DRIVER = Path(__file__).resolve().parents[2] / "helpers" / "file_transfer.py"
SIZE = 12 * 1024 * 1024 + 12345  # 13 chunks of 1 MiB
MARKER = b"PLAINTEXT-MARKER-"


def run(*args: Path | str, kill_after: tuple[str, int] | None = None) -> list[str]:
    """Run the driver; with ``kill_after=(word, n)``, SIGKILL it after n lines of ``word``."""
    command = [sys.executable, str(DRIVER), *map(str, args)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line.strip())
        if kill_after and sum(x.startswith(kill_after[0] + " ") for x in lines) == kill_after[1]:
            os.kill(process.pid, signal.SIGKILL)
            break
    process.wait()
    lines += [line.strip() for line in process.stdout]
    if kill_after:
        assert process.returncode == -signal.SIGKILL
    else:
        assert process.returncode == 0, lines[-3:]
    return lines


def indexes(lines: list[str], word: str) -> list[int]:
    return [int(line.split()[1]) for line in lines if line.startswith(word + " ")]


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "photo album.bin"
    path.write_bytes((MARKER * 1000 + os.urandom(SIZE))[:SIZE])
    for folder in ("store", "sender", "recipient"):
        (tmp_path / folder).mkdir()
    return path


def send(tmp_path: Path, source: Path, **kill: tuple[str, int]) -> list[str]:
    return run("send", source, tmp_path / "store", tmp_path / "sender", **kill)


def receive(tmp_path: Path, **kill: tuple[str, int]) -> list[str]:
    (tmp_path / "recipient" / "description").write_bytes(
        (tmp_path / "sender" / "description").read_bytes()
    )
    return run("receive", tmp_path / "store", tmp_path / "recipient", tmp_path / "out", **kill)


def same_file(left: Path, right: Path) -> bool:
    return hashlib.sha256(left.read_bytes()).digest() == hashlib.sha256(right.read_bytes()).digest()


@pytest.mark.slow
def test_sender_killed_mid_upload_resumes_without_uploading_finished_chunks(
    tmp_path: Path, source: Path
) -> None:
    first = send(tmp_path, source, kill_after=("uploaded", 4))
    second = send(tmp_path, source)
    assert "sent" in second
    finished_before = set(indexes(first, "uploaded"))
    assert len(finished_before) == 4
    assert not finished_before & set(
        indexes(second, "put-finished") + indexes(second, "put-skipped")
    )
    every_put = indexes(first, "put-finished") + indexes(second, "put-finished")
    assert sorted(every_put) == list(range(13))  # each chunk's body stored exactly once
    receive(tmp_path)
    assert same_file(source, tmp_path / "out")
    stored = [p.read_bytes() for p in (tmp_path / "store").rglob("*") if p.is_file()]
    assert stored and not any(MARKER in data for data in stored)  # only ciphertext


@pytest.mark.slow
def test_recipient_killed_mid_download_resumes_without_fetching_written_chunks(
    tmp_path: Path, source: Path
) -> None:
    send(tmp_path, source)
    first = receive(tmp_path, kill_after=("written", 5))
    assert not (tmp_path / "out").exists()
    second = receive(tmp_path)
    assert "received" in second
    written_before = set(indexes(first, "written"))
    assert len(written_before) == 5
    assert not written_before & set(indexes(second, "fetch"))
    assert same_file(source, tmp_path / "out")


@pytest.mark.slow
def test_a_chunk_flipped_on_the_relay_disk_is_detected_and_never_written(
    tmp_path: Path, source: Path
) -> None:
    send(tmp_path, source)
    body = sorted((tmp_path / "store" / "bodies").iterdir())[0]
    data = bytearray(body.read_bytes())
    data[-10] ^= 0x01
    body.write_bytes(bytes(data))
    (tmp_path / "recipient" / "description").write_bytes(
        (tmp_path / "sender" / "description").read_bytes()
    )
    store, state, out = tmp_path / "store", tmp_path / "recipient", tmp_path / "out"
    command = [sys.executable, str(DRIVER), "receive", str(store), str(state), str(out)]
    process = subprocess.run(command, capture_output=True, text=True, check=False)
    assert process.returncode != 0
    assert "ChunkTampered" in process.stderr or "ChunkCorrupted" in process.stderr
    assert not out.exists()
