"""Run ``veil-relay`` as a real subprocess on this machine.

One launcher serves the end-to-end tests and the benchmarks (``bench/relay_support``
puts this directory on the path), so both exercise the relay as an operator runs it: ``init``
writes the data directory, ``start --json`` prints one ready line with the address,
logs go to a file, SIGTERM stops it gracefully and SIGKILL simulates a crash.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from veil.relay.protocol.address import RelayAddress

__all__ = ["START_TIMEOUT", "VEIL_RELAY", "RelayProcess", "free_port", "veil_relay"]

VEIL_RELAY = str(Path(sys.executable).parent / "veil-relay")
#: Generous: a loaded CI machine may take a while to start Python and load the store.
START_TIMEOUT = 60.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def veil_relay(*args: str) -> dict[str, Any]:
    """Run a short ``veil-relay`` command with ``--json``; return its output and exit code."""
    result = subprocess.run(
        [VEIL_RELAY, *args, "--json"],
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )
    output: dict[str, Any] = json.loads(result.stdout) if result.stdout.strip() else {}
    output["exit_code"] = result.returncode
    if result.returncode and "error" not in output:
        output["error"] = result.stderr.strip()
    return output


class RelayProcess:
    """One ``veil-relay start`` process; its stderr (the structured logs) goes to a file."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.log_file = data_dir.parent / f"{data_dir.name}.log"
        self.process: asyncio.subprocess.Process | None = None
        self.ready: dict[str, Any] = {}
        self.start_seconds = 0.0

    @classmethod
    def init(cls, data_dir: Path, *extra: str) -> RelayProcess:
        """``veil-relay init`` on 127.0.0.1 and a free port; ``extra`` are more init options.

        Test relays all run on loopback, so their proxies may connect there."""
        port = str(free_port())
        loopback = ("--proxy-allow", "127.0.0.0/8")
        result = veil_relay(
            "init",
            "--data",
            str(data_dir),
            "--host",
            "127.0.0.1",
            "--port",
            port,
            *loopback,
            *extra,
        )
        if result["exit_code"] != 0:
            raise RuntimeError(f"veil-relay init failed: {result}")
        return cls(data_dir)

    @property
    def address(self) -> RelayAddress:
        """The address the running relay printed when it became ready."""
        return RelayAddress.parse(self.ready["address"])

    @property
    def pid(self) -> int:
        """The relay's process id (it must have been started)."""
        if self.process is None:
            raise RuntimeError("the relay was not started")
        return self.process.pid

    async def start(self) -> None:
        """Start the relay and wait for its ready line."""
        started = time.perf_counter()
        with self.log_file.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                VEIL_RELAY,
                "start",
                "--data",
                str(self.data_dir),
                "--json",
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), START_TIMEOUT)
        if not line:
            raise RuntimeError(f"the relay exited before it was ready:\n{self.logs()}")
        self.ready = json.loads(line)
        self.start_seconds = time.perf_counter() - started

    async def kill(self) -> None:
        """SIGKILL: no chance to flush or clean up, as in a crash or power cut."""
        os.kill(self.pid, signal.SIGKILL)
        assert self.process is not None
        await self.process.wait()

    async def stop(self) -> int:
        """SIGTERM and wait for the graceful shutdown; return the exit code."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), START_TIMEOUT)

    def logs(self) -> str:
        """Everything the relay logged so far."""
        return self.log_file.read_text() if self.log_file.exists() else ""

    def loaded_seconds(self) -> float:
        """How long the relay said loading its store took at its last start."""
        loads = [json.loads(line) for line in self.logs().splitlines() if '"relay.loaded"' in line]
        return float(loads[-1]["seconds"])
