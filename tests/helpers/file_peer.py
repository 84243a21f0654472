"""One side of a file transfer as its own process, through real file relays.

    python file_peer.py send SOURCE STATE RELAY [RELAY ...]
    python file_peer.py receive DESCRIPTION STATE OUTPUT

``send`` stages and uploads SOURCE with the agent's :class:`FileTransfers`, then
writes the encoded description to ``STATE/description``; ``receive`` downloads it.
Each finished chunk prints ``up i`` or ``down i`` (after its record is saved), so a
test can kill the process at a known point; the last line is a JSON summary with the
peak RSS, or ``{"error": ..., "code": ...}`` on a Veil error.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from veil.agent.file_staging import TransferFolder, write_atomically
from veil.agent.file_transfers import ChunkDone, FileTransfers
from veil.crypto import SystemRandom
from veil.errors import VeilError
from veil.files.description import FileDescription, decode_description, encode_description
from veil.relay.client.relay_client import RelayClient

# Run as a script: make the tests' helpers importable, as pytest's rootdir does.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from helpers.file_relays import peak_rss_kib

RNG = SystemRandom()


class Clients:
    """One relay client per address, opened on first use."""

    def __init__(self) -> None:
        self._clients: dict[str, RelayClient] = {}

    async def client(self, address: str) -> RelayClient:
        if address not in self._clients:
            self._clients[address] = await RelayClient.connect(address, connect_timeout=5.0)
        return self._clients[address]

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()


def report(event: ChunkDone) -> None:
    print(event.direction, event.index, flush=True)


async def send(source: Path, state: Path, relays: list[str], transfers: FileTransfers) -> None:
    upload = await transfers.upload(source, TransferFolder(state), relays, on_progress=report)
    (description,) = upload.descriptions(source.name, "application/octet-stream")
    write_atomically(state / "description", encode_description(description))


async def receive(described: Path, state: Path, output: Path, transfers: FileTransfers) -> None:
    description = decode_description(described.read_bytes())
    assert isinstance(description, FileDescription)
    await transfers.download(description.blob, TransferFolder(state), output, on_progress=report)


async def main(command: str, args: list[str]) -> dict[str, object]:
    clients = Clients()
    transfers = FileTransfers(clients.client, RNG, retry_delay=0.2, attempts=3)
    try:
        if command == "send":
            await send(Path(args[0]), Path(args[1]), args[2:], transfers)
        else:
            await receive(Path(args[0]), Path(args[1]), Path(args[2]), transfers)
    except VeilError as exc:
        return {"error": f"{type(exc).__name__}: {exc}", "code": exc.code}
    finally:
        await clients.close()
    return {"done": command}


if __name__ == "__main__":
    summary = asyncio.run(main(sys.argv[1], sys.argv[2:]))
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so it would count the
    # test runner's size, which the child shared between fork and exec.
    summary["peak_rss_kib"] = peak_rss_kib(os.getpid())
    print(json.dumps(summary), flush=True)
    sys.exit(1 if "error" in summary else 0)
