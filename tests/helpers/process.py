"""``veil-relay`` as a real subprocess, for end-to-end tests."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from veil.relay.address import RelayAddress

START_TIMEOUT = 30.0
VEIL_RELAY = str(Path(sys.executable).parent / "veil-relay")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def veil_relay(*args: str) -> dict[str, Any]:
    """Run a short ``veil-relay`` command with ``--json`` and return its output."""
    result = subprocess.run(
        [VEIL_RELAY, *args, "--json"], capture_output=True, text=True, timeout=60, check=False
    )
    output: dict[str, Any] = json.loads(result.stdout)
    output["exit_code"] = result.returncode
    return output


class RelayProcess:
    """One ``veil-relay start`` process; its stderr (the logs) is kept in a file."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.log_file = data_dir.parent / f"{data_dir.name}.log"
        self.process: asyncio.subprocess.Process | None = None
        self.ready: dict[str, Any] = {}

    @classmethod
    def init(cls, data_dir: Path, *extra: str) -> RelayProcess:
        """``veil-relay init`` on 127.0.0.1 with a free port."""
        port = free_port()
        result = veil_relay(
            "init", "--data", str(data_dir), "--host", "127.0.0.1", "--port", str(port), *extra
        )
        assert result["exit_code"] == 0, result
        return cls(data_dir)

    @property
    def address(self) -> RelayAddress:
        return RelayAddress.parse(self.ready["address"])

    async def start(self) -> None:
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
        assert line, f"relay exited early: {self.log_file.read_text()}"
        self.ready = json.loads(line)

    async def kill(self) -> None:
        """SIGKILL: no chance to flush or clean up."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> int:
        """SIGTERM and wait; return the exit code."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), START_TIMEOUT)

    def logs(self) -> str:
        return self.log_file.read_text()
