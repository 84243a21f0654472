"""Start ``veil serve`` for a profile when none runs: what the TUI and ``veil web`` do.

The passphrase goes to the child through a pipe (``--passphrase-fd``), never on its
command line or in its environment, and the child prints one JSON ready line.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from veil.service.client import ServiceClient
from veil.service.errors import ServiceNotRunning

__all__ = ["START_TIMEOUT", "connect_or_start"]

#: Seconds to wait for a started service's ready line (unlocking the store is slow).
START_TIMEOUT = 60.0


async def connect_or_start(
    home: Path, passphrase: str | None
) -> tuple[ServiceClient, asyncio.subprocess.Process | None]:
    """A client of the profile's running service, or of one started now.

    Returns the client and the process started (None if one was running). With no
    service running and no ``passphrase``, :class:`ServiceNotRunning` says what to do.
    """
    try:
        return await ServiceClient.connect(home), None
    except ServiceNotRunning:
        if passphrase is None:
            raise
    process = await _start(home, passphrase)
    return await ServiceClient.connect(home), process


async def _start(home: Path, passphrase: str) -> asyncio.subprocess.Process:
    read_end, write_end = os.pipe()
    os.write(write_end, passphrase.encode("utf-8") + b"\n")
    os.close(write_end)
    command = [sys.executable, "-m", "veil.cli", "serve", "--home", str(home), "--json"]
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            "--passphrase-fd",
            str(read_end),
            pass_fds=(read_end,),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    finally:
        os.close(read_end)
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT)
    ready = json.loads(line) if line.strip() else {"error": "the service printed nothing"}
    if "error" in ready:
        raise ServiceNotRunning(f"`veil serve` did not start: {ready.get('error')}")
    return process
