"""A typed client for ``tests/interop/ts_mls/driver.mjs``: ts-mls members in one Node
process, driven over line-delimited JSON.

``install()`` puts the pinned ts-mls (the first release whose X-Wing suite uses Veil's
codepoint 0xF00D) into ``~/.cache/veil/ts-mls-<version>`` with ``npm install`` and
raises ``TsMlsUnavailable`` with the reason when Node, npm or the registry cannot be
reached; tests turn that into a skip. Every MLS message crosses the pipe as its
RFC 9420 ``MLSMessage`` encoding.
"""

from __future__ import annotations

import base64
import fcntl
import json
import select
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

TS_MLS_VERSION = "2.0.0-rc.10"
# ts-mls loads the X-Wing KEM and its noble primitives from optional peer dependencies;
# these are the versions its package.json names.
PACKAGES = (
    f"ts-mls@{TS_MLS_VERSION}",
    "@hpke/hybridkem-x-wing@0.7.0",
    "@hpke/ml-kem@0.3.0",
    "@noble/curves@2.0.1",
    "@noble/post-quantum@0.5.2",
)
DRIVER = Path(__file__).resolve().parents[1] / "interop" / "ts_mls" / "driver.mjs"
CACHE = Path.home() / ".cache" / "veil" / f"ts-mls-{TS_MLS_VERSION}"
INSTALL_TIMEOUT_S = 600
READY_MARKER = ".installed"


class TsMlsUnavailable(Exception):
    """ts-mls cannot run here; the message says why (for a test skip)."""


class TsMlsError(Exception):
    """The driver rejected a request; the message carries ts-mls's error."""


def install(cache: Path = CACHE) -> Path:
    """The folder holding the pinned ts-mls and the driver, installing it once."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise TsMlsUnavailable("node and npm are needed for the ts-mls interop tests")
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent test runs install once
        if not (cache / READY_MARKER).exists():
            _npm_install(npm, cache)
    shutil.copyfile(DRIVER, cache / DRIVER.name)  # so "ts-mls" resolves in cache/node_modules
    return cache


def _npm_install(npm: str, cache: Path) -> None:
    (cache / "package.json").write_text('{"private": true, "type": "module"}\n')
    command = [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", *PACKAGES]
    try:
        done = subprocess.run(
            command,
            check=False,
            cwd=cache,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        raise TsMlsUnavailable(f"npm install of {PACKAGES} timed out") from exc
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-3:]
        raise TsMlsUnavailable(f"npm install of {PACKAGES} failed: {' | '.join(tail)}")
    (cache / READY_MARKER).touch()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _bytes(text: object) -> bytes:
    assert isinstance(text, str), text
    return base64.b64decode(text)


@dataclass(frozen=True, slots=True)
class Summary:
    """Where a ts-mls member stands after a step."""

    epoch: int
    epoch_authenticator: bytes
    leaf_index: int

    @classmethod
    def of(cls, reply: dict[str, Any]) -> Summary:
        """Read the summary fields of a driver reply."""
        return cls(
            int(reply["epoch"]), _bytes(reply["epoch_authenticator"]), int(reply["leaf_index"])
        )


@dataclass(frozen=True, slots=True)
class CommitMade:
    """A ts-mls commit: the MLSMessage, the Welcome (if it added anyone), the new epoch."""

    commit: bytes
    welcome: bytes | None
    summary: Summary


@dataclass(frozen=True, slots=True)
class MessageProcessed:
    """What a ts-mls member got from one message."""

    application_data: bytes | None
    removed: bool
    summary: Summary


class TsMls:
    """One driver process; use as a context manager so Node is always stopped."""

    def __init__(self, folder: Path) -> None:
        self._process = subprocess.Popen(
            ["node", str(folder / DRIVER.name)],
            cwd=folder,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def __enter__(self) -> TsMls:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """End the driver: closing stdin ends its read loop; a busy one is killed."""
        stdin: IO[str] | None = self._process.stdin
        if stdin is not None and not stdin.closed:
            stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def request(
        self, op: str, timeout_s: float | None = None, **arguments: object
    ) -> dict[str, Any]:
        """Send one request and return the reply; a refusal raises ``TsMlsError``,
        no reply within ``timeout_s`` raises ``TimeoutError`` (the driver is busy)."""
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(json.dumps({"op": op, **arguments}) + "\n")
        stdin.flush()
        if timeout_s is not None and not select.select([stdout], [], [], timeout_s)[0]:
            raise TimeoutError(f"ts-mls gave no answer to {op!r} within {timeout_s} s")
        line = stdout.readline()
        if not line:
            raise TsMlsError(f"the driver exited during {op!r}")
        reply: dict[str, Any] = json.loads(line)
        if not reply.pop("ok"):
            raise TsMlsError(str(reply["error"]))
        return reply

    def create_group(self, name: str, suite: int, group_id: bytes) -> Summary:
        """``name`` creates a one-member group."""
        reply = self.request("create_group", name=name, suite=suite, group_id=_b64(group_id))
        return Summary.of(reply)

    def key_package(self, name: str, suite: int) -> bytes:
        """A fresh KeyPackage MLSMessage for the future member ``name``."""
        return _bytes(self.request("key_package", name=name, suite=suite)["key_package"])

    def join(self, name: str, welcome: bytes) -> Summary:
        """``name`` joins from a Welcome MLSMessage made for its key package."""
        return Summary.of(self.request("join", name=name, welcome=_b64(welcome)))

    def commit(
        self,
        name: str,
        add: tuple[bytes, ...] = (),
        remove: tuple[int, ...] = (),
        *,
        public: bool = False,
    ) -> CommitMade:
        """``name`` commits Adds and Removes by value (none: an Update through a path)."""
        reply = self.request(
            "commit", name=name, add=[_b64(kp) for kp in add], remove=list(remove), public=public
        )
        welcome = reply["welcome"]
        return CommitMade(
            _bytes(reply["commit"]), None if welcome is None else _bytes(welcome), Summary.of(reply)
        )

    def process(self, name: str, message: bytes) -> MessageProcessed:
        """``name`` processes a handshake or application MLSMessage."""
        reply = self.request("process", name=name, message=_b64(message))
        data = reply["data"]
        return MessageProcessed(
            None if data is None else _bytes(data), bool(reply["removed"]), Summary.of(reply)
        )

    def encrypt(self, name: str, data: bytes) -> bytes:
        """An application PrivateMessage from ``name``."""
        return _bytes(self.request("encrypt", name=name, data=_b64(data))["message"])

    def summary(self, name: str) -> Summary:
        """Where ``name`` stands now."""
        return Summary.of(self.request("state", name=name))

    def state_size(self, name: str) -> int:
        """The size of ``name``'s serialised ts-mls ClientState."""
        return int(self.request("state", name=name)["state_size"])

    def bench(self, suite: int, size: int, messages: int, timeout_s: float) -> dict[str, float]:
        """ts-mls's side of bench/mls.py, timed inside Node."""
        reply = self.request(
            "bench", timeout_s=timeout_s, suite=suite, size=size, messages=messages
        )
        return {key: float(value) for key, value in reply.items()}
