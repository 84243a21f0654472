"""Relay and forwarder processes for the benchmark, and their memory."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from helpers.proc_stats import rss_kib
from helpers.relay_process import RelayProcess, free_port

__all__ = [
    "START_TIMEOUT",
    "CpuMeter",
    "RelayProcess",
    "cpu_seconds",
    "free_port",
    "init_relay",
    "rss_kib",
    "spawn_ceiling_forwarder",
    "stop_process",
]

START_TIMEOUT = 120.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time process ``pid`` has used, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU used by the relay process and by this (load) process over a window."""

    def __init__(self, relay_pid: int) -> None:
        self._pid = relay_pid
        self._start = (0.0, 0.0, 0.0)
        self.relay_seconds = self.load_seconds = self.wall_seconds = 0.0

    def start(self) -> None:
        self._start = (cpu_seconds(self._pid), time.process_time(), time.perf_counter())

    def stop(self) -> None:
        relay, load, wall = self._start
        self.relay_seconds = cpu_seconds(self._pid) - relay
        self.load_seconds = time.process_time() - load
        self.wall_seconds = time.perf_counter() - wall

    def utilisation(self) -> dict[str, float]:
        """Share of one core each process used during the window, in percent."""
        return {
            "relay_cpu_percent": round(100 * self.relay_seconds / self.wall_seconds),
            "load_cpu_percent": round(100 * self.load_seconds / self.wall_seconds),
        }


def init_relay(data_dir: Path, quota: int, store: str = "journal") -> RelayProcess:
    """``veil-relay init`` on a free loopback port, with a bench-sized queue quota."""
    relay = RelayProcess.init(data_dir, "--store", store)
    config = data_dir / "config.toml"
    config.write_text(config.read_text().replace("quota = 128", f"quota = {quota}"))
    return relay


async def spawn_ceiling_forwarder(data_dir: Path, port: int) -> asyncio.subprocess.Process:
    """Run the bare TLS forwarder in its own process; return once it listens."""
    bench_dir = Path(__file__).resolve().parent.parent
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(bench_dir / "relay.py"),
        "--serve-ceiling",
        str(data_dir),
        str(port),
        stdout=asyncio.subprocess.PIPE,
        # Its only stderr output is asyncio's noise about peers gone at shutdown.
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT)
    return process


async def stop_process(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        os.kill(process.pid, signal.SIGTERM)
        await process.wait()
