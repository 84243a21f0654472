"""Install the peer brokers and their Python clients, saying so on stderr.

The peers are Debian's ``nats-server`` and ``mosquitto`` (started by the benchmark,
never as system services) and the asyncio clients ``nats-py`` and ``aiomqtt``.
Installing Debian packages needs root; without it the benchmark says what to run.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys

DEBIAN_PEERS = {"nats-server": "nats-server", "mosquitto": "mosquitto"}
PYTHON_CLIENTS = {"nats": "nats-py", "aiomqtt": "aiomqtt"}


def _say(message: str) -> None:
    print(f"[bench/peers] {message}", file=sys.stderr, flush=True)


def _missing_programs() -> list[str]:
    return [
        package
        for program, package in DEBIAN_PEERS.items()
        if shutil.which(program) is None and not os.path.exists(f"/usr/sbin/{program}")
    ]


def ensure_peers() -> None:
    """Install whatever peer broker or client library is missing, or explain how."""
    packages = _missing_programs()
    if packages:
        if os.geteuid() != 0:
            raise SystemExit(f"bench/peers needs: apt-get install {' '.join(packages)} (as root)")
        _say(f"installing Debian packages {', '.join(packages)} (apt-get)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, env=env)
        # Debian starts mosquitto as a service on install; the benchmark runs its own.
        subprocess.run(["systemctl", "stop", "mosquitto"], check=False, capture_output=True)
    modules = [
        pip for module, pip in PYTHON_CLIENTS.items() if not importlib.util.find_spec(module)
    ]
    if modules:
        _say(f"installing Python clients {', '.join(modules)} (pip)")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *modules], check=True)


def program(name: str) -> str:
    """Path of a peer broker's executable."""
    return shutil.which(name) or f"/usr/sbin/{name}"
