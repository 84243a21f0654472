"""Broker processes for the peer benchmark: start, pin to one core, wait, stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time

import relay_support  # noqa: F401 (puts tests/ on the path for helpers)
from helpers.relay_process import free_port

__all__ = ["BROKER_CORE", "LOAD_CORE", "Broker", "free_port", "pin_all_threads", "wait_for_port"]

BROKER_CORE = 0
LOAD_CORE = 1
START_TIMEOUT = 30.0


def pin_all_threads(pid: int, core: int) -> None:
    """Pin every thread of ``pid`` to ``core`` (``taskset -a``), so brokers get one core."""
    subprocess.run(["taskset", "-a", "-cp", str(core), str(pid)], check=True, capture_output=True)


async def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
        else:
            writer.close()
            return


class Broker:
    """A broker subprocess started on BROKER_CORE."""

    def __init__(self, argv: list[str], port: int) -> None:
        self._argv, self.port = argv, port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    async def start(self) -> None:
        self._process = subprocess.Popen(
            ["taskset", "-c", str(BROKER_CORE), *self._argv],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await wait_for_port(self.port)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(10)
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait()
