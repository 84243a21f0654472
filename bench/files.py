"""Benchmark: a large file up to a file relay and down again, against a bare TLS copy.

Veil: a ``veil-relay`` process with file storage, a sender process (the agent's
``FileTransfers``: encrypt once into a staging file, upload every chunk over TLS in
16 KiB blocks) and a recipient process (download, verify, decrypt, write). Both
are ``tests/helpers/file_peer.py``. Bare TLS: the same bytes copied up to a TLS 1.3
server process that writes them to disk and fsyncs, then copied back down to a file,
over loopback in the same run. Both figures count the file's size once per direction:
``throughput = size / (up seconds + down seconds)``.

Figures: ``veil_mib_per_s``, ``tls_mib_per_s``, ``ratio`` (target >= 0.5), the
upload and download seconds of each, ``peak_rss_mib`` of the sender, recipient and
relay (target < 150), and whether the SHA-256 of what arrived matches.

Usage: ``python bench/files.py [--mib N] [--dir DIR]`` (default 1024 MiB); prints one
JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import relay_support  # noqa: F401 - makes the tests' helpers importable
from files_core import make_source
from helpers.file_relays import peak_rss_kib, run_peer, sha256_of, start_file_relay
from peer_support.certs import write_loopback_certificate
from veil.relay.transport.tls import client_context, server_context

BLOCK = 1 << 20


def tls_server(port: int, cert: Path, key: Path, stored: Path) -> None:
    """Child process: take one upload (to ``stored``, fsynced), then serve it back."""
    context = server_context(cert, key)
    with socket.create_server(("127.0.0.1", port)) as listener:
        print("ready", flush=True)
        for direction in ("up", "down"):
            raw, _ = listener.accept()
            with context.wrap_socket(raw, server_side=True) as tls:
                if direction == "up":
                    remaining = int.from_bytes(_receive_exactly(tls, 8), "big")
                    with stored.open("wb") as handle:
                        while remaining:
                            data = tls.recv(min(BLOCK, remaining))
                            handle.write(data)
                            remaining -= len(data)
                        handle.flush()
                        os.fsync(handle.fileno())
                    tls.sendall(b"k")
                else:
                    with stored.open("rb") as handle:
                        while data := handle.read(BLOCK):
                            tls.sendall(data)


def tls_copy(source: Path, output: Path, folder: Path) -> tuple[float, float]:
    cert, key = write_loopback_certificate(folder)
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    stored = folder / "tls-stored.bin"
    args = [sys.executable, __file__, "--tls-server", str(port), str(cert), str(key), str(stored)]
    server = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    server.stdout.readline()
    context = client_context()
    started = time.perf_counter()
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        context.wrap_socket(raw) as tls,
        source.open("rb") as handle,
    ):
        tls.sendall(source.stat().st_size.to_bytes(8, "big"))
        while data := handle.read(BLOCK):
            tls.sendall(data)
        _receive_exactly(tls, 1)  # the server has it on disk
    up = time.perf_counter() - started
    started = time.perf_counter()
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        context.wrap_socket(raw) as tls,
        output.open("wb") as handle,
    ):
        while data := tls.recv(BLOCK):
            handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    down = time.perf_counter() - started
    server.wait(timeout=60)
    return up, down


def _receive_exactly(tls: ssl.SSLSocket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        more = tls.recv(size - len(data))
        if not more:
            raise ConnectionError("the TLS peer closed early")
        data += more
    return data


async def veil_transfer(source: Path, output: Path, folder: Path) -> dict[str, float]:
    relay = await start_file_relay(folder / "relay")
    try:
        started = time.perf_counter()
        sent = await run_peer("send", source, folder / "sender", str(relay.address))
        up = time.perf_counter() - started
        if "done" not in sent.summary:
            raise RuntimeError(f"upload failed: {sent.lines[-3:]}")
        description = folder / "sender" / "description"
        started = time.perf_counter()
        got = await run_peer("receive", description, folder / "recipient", output)
        down = time.perf_counter() - started
        if "done" not in got.summary:
            raise RuntimeError(f"download failed: {got.lines[-3:]}")
        relay_rss = peak_rss_kib(relay.pid)
    finally:
        await relay.stop()
    return {
        "up_seconds": up,
        "down_seconds": down,
        "sender_rss_mib": sent.summary["peak_rss_kib"] / 1024,
        "recipient_rss_mib": got.summary["peak_rss_kib"] / 1024,
        "relay_rss_mib": relay_rss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as temp:
        folder = Path(temp)
        source = folder / "source.bin"
        expected = make_source(source, args.mib)
        veil = asyncio.run(veil_transfer(source, folder / "veil-out.bin", folder))
        veil_ok = sha256_of(folder / "veil-out.bin") == expected
        (folder / "veil-out.bin").unlink()
        tls_up, tls_down = tls_copy(source, folder / "tls-out.bin", folder)
        tls_ok = sha256_of(folder / "tls-out.bin") == expected
    size_mib = float(args.mib)
    veil_rate = size_mib / (veil["up_seconds"] + veil["down_seconds"])
    tls_rate = size_mib / (tls_up + tls_down)
    rss = [veil["sender_rss_mib"], veil["recipient_rss_mib"], veil["relay_rss_mib"]]
    result = {
        "benchmark": "files",
        "size_mib": args.mib,
        "veil_mib_per_s": round(veil_rate, 1),
        "tls_mib_per_s": round(tls_rate, 1),
        "ratio": round(veil_rate / tls_rate, 3),
        "ratio_target": 0.5,
        "veil_up_seconds": round(veil["up_seconds"], 2),
        "veil_down_seconds": round(veil["down_seconds"], 2),
        "tls_up_seconds": round(tls_up, 2),
        "tls_down_seconds": round(tls_down, 2),
        "peak_rss_mib": {
            "sender": round(rss[0], 1),
            "recipient": round(rss[1], 1),
            "relay": round(rss[2], 1),
        },
        "peak_rss_target_mib": 150,
        "sha256_matches": veil_ok and tls_ok,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--tls-server"]:
        port, cert, key, stored = sys.argv[2:6]
        tls_server(int(port), Path(cert), Path(key), Path(stored))
    else:
        main()
