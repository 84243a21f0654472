"""Files sent and received through ``veil-relay`` processes by peer processes.

Sizes: CI sends 24 MiB (plus a 64 MiB bounded-memory run); set ``VEIL_FILES_BIG=1``
to send the 1 GiB file of issue #11 (a few minutes on a busy 2-core machine).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.file_relays import peak_rss_kib, run_peer, sha256_of, start_file_relay
from helpers.relay_process import RelayProcess
from veil.files.layout import plan_layout

pytestmark = pytest.mark.slow

MARKER = b"VEIL-PLAINTEXT-MARKER-"
MIB = 1024 * 1024
RSS_LIMIT_KIB = 150 * 1024


def make_file(path: Path, size: int) -> Path:
    """A file of ``size`` bytes: a marker, then random blocks (written 1 MiB at a time)."""
    with path.open("wb") as handle:
        handle.write(MARKER)
        written = len(MARKER)
        while written < size:
            block = os.urandom(min(MIB, size - written))
            handle.write(block)
            written += len(block)
    return path


def stored_bytes_contain(folder: Path, needle: bytes) -> bool:
    return any(path.is_file() and needle in path.read_bytes() for path in folder.rglob("*"))


async def send_and_receive(tmp_path: Path, source: Path, relays: list[RelayProcess]) -> Path:
    addresses = [str(relay.address) for relay in relays]
    sent = await run_peer("send", source, tmp_path / "sender", *addresses)
    assert sent.summary.get("done") == "send", sent.lines[-3:]
    output = tmp_path / "received.bin"
    got = await run_peer(
        "receive", tmp_path / "sender" / "description", tmp_path / "recipient", output
    )
    assert got.summary.get("done") == "receive", got.lines[-3:]
    return output


async def test_a_file_crosses_two_relays_and_they_hold_only_ciphertext(tmp_path: Path) -> None:
    relays = [await start_file_relay(tmp_path / f"relay{n}") for n in range(2)]
    try:
        source = make_file(tmp_path / "album.bin", 24 * MIB + 123)
        output = await send_and_receive(tmp_path, source, relays)
        assert sha256_of(output) == sha256_of(source)
        for relay in relays:
            assert any((relay.data_dir / "files" / "bodies").iterdir())  # spread over both
            assert not stored_bytes_contain(relay.data_dir / "files", MARKER)
    finally:
        for relay in relays:
            await relay.stop()


@pytest.mark.parametrize("side", ["sender", "recipient"])
async def test_a_peer_killed_mid_transfer_resumes_without_redoing_chunks(
    tmp_path: Path, side: str
) -> None:
    relay = await start_file_relay(tmp_path / "relay")
    try:
        source = make_file(tmp_path / "video.bin", 24 * MIB)
        address = str(relay.address)
        description = tmp_path / "sender" / "description"
        output = tmp_path / "received.bin"
        sender_args = ("send", source, tmp_path / "sender", address)
        receiver_args = ("receive", description, tmp_path / "recipient", output)
        first_args = sender_args if side == "sender" else receiver_args
        if side == "recipient":
            assert (await run_peer(*sender_args)).summary.get("done")
        killed = await run_peer(*first_args, kill_after=2)
        assert killed.killed
        again = await run_peer(*first_args)
        direction = "up" if side == "sender" else "down"
        assert again.summary.get("done"), again.lines[-3:]
        assert not set(killed.chunks(direction)) & set(again.chunks(direction))
        every = list(range(plan_layout(24 * MIB).chunk_count))
        assert sorted(killed.chunks(direction) + again.chunks(direction)) == every
        if side == "sender":
            assert (await run_peer(*receiver_args)).summary.get("done")
        assert sha256_of(output) == sha256_of(source)
    finally:
        await relay.stop()


@pytest.mark.parametrize("direction", ["up", "down"])
async def test_a_relay_killed_mid_transfer_loses_nothing_it_acknowledged(
    tmp_path: Path, direction: str
) -> None:
    relay = await start_file_relay(tmp_path / "relay")
    source = make_file(tmp_path / "video.bin", 24 * MIB)
    output = tmp_path / "received.bin"
    sender_args = ("send", source, tmp_path / "sender", str(relay.address))
    receiver_args = ("receive", tmp_path / "sender" / "description", tmp_path / "recipient", output)
    args = sender_args if direction == "up" else receiver_args
    try:
        if direction == "down":
            assert (await run_peer(*sender_args)).summary.get("done")
        # kill -9 of the relay while the peer runs: the peer stops with a clear error
        # (or finishes, if the relay came back in time); nothing it finished is redone.
        first = await run_peer(*args, meanwhile=(3, relay.kill))
        assert first.summary.get("done") or first.summary.get("code") == 561, first.lines[-3:]
        await relay.start()
        again = await run_peer(*args)
        assert first.summary.get("done") or again.summary.get("done"), again.lines[-3:]
        assert not set(first.chunks(direction)) & set(again.chunks(direction))
        if direction == "up":
            assert (await run_peer(*receiver_args)).summary.get("done")
        assert sha256_of(output) == sha256_of(source)
    finally:
        await relay.stop()


async def test_a_chunk_flipped_on_the_relay_is_detected_and_never_written(tmp_path: Path) -> None:
    relay = await start_file_relay(tmp_path / "relay")
    try:
        source = make_file(tmp_path / "doc.bin", 3 * MIB)
        address = str(relay.address)
        assert (await run_peer("send", source, tmp_path / "sender", address)).summary.get("done")
        body = next((relay.data_dir / "files" / "bodies").iterdir())
        damaged = bytearray(body.read_bytes())
        damaged[len(damaged) // 2] ^= 0x40
        body.write_bytes(bytes(damaged))
        output = tmp_path / "received.bin"
        description = tmp_path / "sender" / "description"
        got = await run_peer("receive", description, tmp_path / "recipient", output)
        assert got.summary.get("code") == 562, got.lines  # FileChunkLost
        assert not output.exists()
    finally:
        await relay.stop()


async def test_a_full_file_relay_is_a_clear_error_and_the_upload_resumes_after(
    tmp_path: Path,
) -> None:
    relay = await start_file_relay(tmp_path / "relay", quota_bytes=8 * MIB)
    source = make_file(tmp_path / "big.bin", 20 * MIB)  # quota: 8 of its 20+ MiB
    sender_args = ("send", source, tmp_path / "sender", str(relay.address))
    try:
        full = await run_peer(*sender_args)
        assert full.summary.get("code") == 560, full.lines  # FileRelayFull
        assert "quota is used up" in full.summary["error"]
        await relay.stop()
        config = relay.data_dir / "config.toml"
        config.write_text(config.read_text().replace(f"{8 * MIB}", f"{64 * MIB}"))
        await relay.start()
        again = await run_peer(*sender_args)
        assert again.summary.get("done"), again.lines[-3:]
        assert not set(full.chunks("up")) & set(again.chunks("up"))
    finally:
        await relay.stop()


BIG = 1024 * MIB if os.environ.get("VEIL_FILES_BIG") == "1" else 64 * MIB


async def test_a_large_file_keeps_memory_flat_on_all_three_processes(tmp_path: Path) -> None:
    relay = await start_file_relay(tmp_path / "relay")
    try:
        source = make_file(tmp_path / "large.bin", BIG)
        address = str(relay.address)
        sent = await run_peer("send", source, tmp_path / "sender", address)
        assert sent.summary.get("done"), sent.lines[-3:]
        output = tmp_path / "received.bin"
        description = tmp_path / "sender" / "description"
        got = await run_peer("receive", description, tmp_path / "recipient", output)
        assert got.summary.get("done"), got.lines[-3:]
        relay_rss = peak_rss_kib(relay.pid)
        assert sha256_of(output) == sha256_of(source)
        print(
            f"peak RSS KiB: sender {sent.summary['peak_rss_kib']}, "
            f"recipient {got.summary['peak_rss_kib']}, relay {relay_rss}"
        )
        for rss in (sent.summary["peak_rss_kib"], got.summary["peak_rss_kib"], relay_rss):
            assert rss < RSS_LIMIT_KIB
    finally:
        await relay.stop()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MiB tmpfs (needs root); skipped where it cannot be mounted."""
    folder = tmp_path / "small-disk"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


async def test_a_full_disk_on_the_relay_is_a_clear_error_and_the_upload_resumes_after(
    tmp_path: Path, small_disk: Path
) -> None:
    relay = await start_file_relay(tmp_path / "relay", folder=small_disk / "chunks")
    source = make_file(tmp_path / "big.bin", 20 * MIB)
    sender_args = ("send", source, tmp_path / "sender", str(relay.address))
    try:
        full = await run_peer(*sender_args)
        assert full.summary.get("code") == 560, full.lines  # FileRelayFull
        assert "disk is full" in full.summary["error"]
        resized = ["mount", "-o", "remount,size=64m", str(small_disk)]
        subprocess.run(resized, check=True)  # space is freed
        again = await run_peer(*sender_args)
        assert again.summary.get("done"), again.lines[-3:]
        assert not set(full.chunks("up")) & set(again.chunks("up"))
    finally:
        await relay.stop()
