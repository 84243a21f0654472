"""File relays as real ``veil-relay`` processes, and transfer peers as real processes.

Shared by the end-to-end file tests and ``bench/files.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.relay_process import RelayProcess

__all__ = ["PEER", "PeerRun", "peak_rss_kib", "run_peer", "sha256_of", "start_file_relay"]

PEER = str(Path(__file__).resolve().parent / "file_peer.py")


async def start_file_relay(
    data_dir: Path, *, quota_bytes: int = 1 << 40, folder: Path | None = None
) -> RelayProcess:
    """``veil-relay init`` with ``[files]`` enabled, then start it."""
    relay = RelayProcess.init(data_dir)
    table = f"\n[files]\nenabled = true\nquota_bytes = {quota_bytes}\n"
    if folder is not None:
        table += f'path = "{folder}"\n'
    with (data_dir / "config.toml").open("a", encoding="utf-8") as config:
        config.write(table)
    await relay.start()
    return relay


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, read 1 MiB at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def peak_rss_kib(pid: int) -> int:
    """The peak resident set size of a running process (``VmHWM``), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc status")


@dataclass
class PeerRun:
    """What one peer process printed, and how it ended."""

    lines: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    killed: bool = False

    def chunks(self, direction: str) -> list[int]:
        """Indexes of the chunks it reported finished in ``direction`` ("up"/"down")."""
        return [int(line.split()[1]) for line in self.lines if line.startswith(direction + " ")]


async def run_peer(
    *args: str | Path,
    kill_after: int | None = None,
    meanwhile: tuple[int, Callable[[], Awaitable[None]]] | None = None,
    timeout: float = 1200,
) -> PeerRun:
    """Run ``file_peer.py``; with ``kill_after=n``, SIGKILL it once n chunks finished;
    with ``meanwhile=(n, act)``, await ``act()`` once n chunks finished and go on."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, PEER, *map(str, args), stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    run = PeerRun()
    async with asyncio.timeout(timeout):
        while line := (await process.stdout.readline()).decode().strip():
            run.lines.append(line)
            if line.startswith("{"):
                run.summary = json.loads(line)
            elif kill_after is not None and len(run.lines) >= kill_after:
                os.kill(process.pid, signal.SIGKILL)
                run.killed = True
                break
            elif meanwhile is not None and len(run.lines) == meanwhile[0]:
                await meanwhile[1]()
        await process.wait()
    return run
