"""Debian's ``dante-server`` (``danted``) as a SOCKS5 server on loopback, for tests.

Its outgoing address is 127.0.0.2 while clients connect from 127.0.0.1, so a
server can tell from the peer address alone whether a connection came through it.
Without ``danted`` installed, tests using it skip and say so.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from veil.routing.policy import SocksSettings

CLIENT_HOST = "127.0.0.1"
SOCKS_EXTERNAL_HOST = "127.0.0.2"
STARTUP_ATTEMPTS = 200
DANTED = shutil.which("danted") or shutil.which("danted", path="/usr/sbin:/usr/local/sbin")

requires_danted = pytest.mark.skipif(
    DANTED is None, reason="danted not installed (apt-get install -y dante-server)"
)

DANTE_CONFIG = """\
logoutput: {log}
internal: {client_host} port = {port}
external: {external_host}
clientmethod: none
socksmethod: none
client pass {{
    from: 127.0.0.0/8 to: 0.0.0.0/0
}}
socks pass {{
    from: 127.0.0.0/8 to: 0.0.0.0/0
    command: connect
}}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((CLIENT_HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    for _ in range(STARTUP_ATTEMPTS):
        if process.poll() is not None:
            pytest.fail(f"danted exited with {process.returncode}: {log.read_text()}")
        with contextlib.suppress(OSError), socket.create_connection((CLIENT_HOST, port), 0.5):
            return
        time.sleep(0.05)
    pytest.fail(f"danted did not listen on port {port}: {log.read_text()}")


@pytest.fixture
def danted(tmp_path: Path) -> Iterator[SocksSettings]:
    """A running ``danted`` on a free loopback port; yields its SOCKS settings."""
    assert DANTED is not None
    port = free_port()
    log = tmp_path / "danted.log"
    config = tmp_path / "danted.conf"
    config.write_text(
        DANTE_CONFIG.format(
            log=log, client_host=CLIENT_HOST, port=port, external_host=SOCKS_EXTERNAL_HOST
        )
    )
    process = subprocess.Popen(
        [DANTED, "-f", str(config), "-N", "1", "-p", str(tmp_path / "danted.pid")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_listening(process, port, log)
        yield SocksSettings(CLIENT_HOST, port)
    finally:
        process.terminate()
        process.wait(timeout=30)
