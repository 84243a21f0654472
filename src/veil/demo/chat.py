"""Demo: a real relay and two ``veil`` profiles talk, driven through the CLI.

Serves a relay in this process (what ``veil-relay start`` runs: SQLite, TLS on a
local port) from a temporary directory, creates two profiles, connects them with
a one-time link, exchanges messages (some while the peer is offline), prints the
conversation, and shows what the relay had stored meanwhile: random queue ids and
fixed-size ciphertext, nothing else; then the two start a group and share a file
(:mod:`veil.demo.group_and_file`). Ends with the commands to do the same by hand in
two terminals.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import shlex
import socket
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from veil.crypto import SystemRandom
from veil.demo.group_and_file import show_group_and_file
from veil.relay.server.config import RelayConfig, create_data_dir
from veil.relay.server.file_settings import FileStoreSettings
from veil.relay.transport.identity import RelayIdentity
from veil.relayd.runner import RunningRelay, run_relay

__all__ = ["run_chat_demo"]

_BIN = Path(sys.executable).parent
_PASSPHRASE = "demo passphrase"  # noqa: S105 (a throwaway profile in a temp directory)


class _Cli:
    """Runs ``veil`` commands for one profile and echoes them like a terminal would."""

    def __init__(self, console: Console, home: Path, name: str) -> None:
        self.console = console
        self.home = home
        self.name = name
        self.env = {**os.environ, "VEIL_PASSPHRASE": _PASSPHRASE}

    def run(self, *args: str, show: bool = True) -> dict[str, Any]:
        argv = [str(_BIN / "veil"), *args, "--home", str(self.home), "--json"]
        if show:
            shown = " ".join(shlex.quote(a) if len(a) < 60 else a[:40] + "…" for a in args)
            self.console.print(f"[dim]{self.name}$[/dim] veil {shown}")
        # Our own console scripts, next to this interpreter; arguments are ours too.
        result = subprocess.run(argv, env=self.env, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise RuntimeError(f"veil {args[0]} failed: {result.stdout}{result.stderr}")
        output: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
        return output


def _relay_contents(root: Path) -> tuple[int, list[tuple[str, int, str]]]:
    """Queues and stored messages, read straight from the relay's SQLite file."""
    database = sqlite3.connect(f"file:{root / 'relay' / 'relay.db'}?mode=ro", uri=True)
    try:
        queues = database.execute("SELECT count(*) FROM queues").fetchone()[0]
        rows = database.execute("SELECT recipient_id, sealed FROM messages ORDER BY seq").fetchall()
    finally:
        database.close()
    return queues, [(bytes(r[0]).hex()[:12], len(r[1]), bytes(r[1]).hex()[:48]) for r in rows]


def run_chat_demo(console: Console) -> None:
    """Run the whole demo, printing as it goes."""
    console.rule("[bold]Two people talk through a relay")
    with tempfile.TemporaryDirectory(prefix="veil-demo-") as temporary:
        asyncio.run(_run_with_relay(console, Path(temporary)))
    _two_terminals(console)


async def _run_with_relay(console: Console, root: Path) -> None:
    """Serve a relay in this process, over TLS on a local port, while the CLI talks to it."""
    data_dir = root / "relay"
    # SQLite: the demo shows the relay's rows (queues, sealed messages) as they lie at rest.
    config = RelayConfig(
        public_hosts=("127.0.0.1",),
        port=_free_port(),
        log_level="warning",
        store="sqlite",
        files=FileStoreSettings(),  # the second part shares a file through this relay
    )
    create_data_dir(data_dir)
    identity = RelayIdentity.generate(SystemRandom(), datetime.datetime.now(datetime.UTC))
    identity.save(data_dir)
    config.save(data_dir)
    ready: asyncio.Future[RunningRelay] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    relay = asyncio.create_task(
        run_relay(data_dir, config, identity, ready=ready.set_result, stop=stop)
    )
    waiting: set[asyncio.Future[Any]] = {ready, relay}
    done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    if relay in done:
        relay.result()  # raises why the relay could not start
        raise RuntimeError("the relay stopped before it was ready")
    try:
        # The CLI runs in processes of its own; waiting for them must not stall the relay.
        await asyncio.to_thread(_converse, console, root, ready.result().address)
    finally:
        stop.set()
        await relay


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _converse(console: Console, root: Path, address: str) -> None:
    console.print(f"A relay is running on SQLite: [cyan]{address}[/cyan]\n")
    alice = _Cli(console, root / "alice", "alice")
    bob = _Cli(console, root / "bob", "bob")
    for user, name in ((alice, "Alice"), (bob, "Bob")):
        user.run("init", "--name", name, "--relay", address, "--fast-kdf")
    link = alice.run("invite")["link"]
    console.print(f"  [green]{link[:72]}…[/green] ({len(link)} characters)")
    bob.run("connect", link)
    alice.run("receive", "--wait", "0.5")
    bob.run("receive", "--wait", "0.5")
    code = alice.run("verify", "Bob", show=False)["code"]
    console.print(f"Both sides now show the same security code: [bold]{code}[/bold]\n")

    bob.run("send", "Alice", "Hi Alice, it's Bob. Got your link.")
    bob.run("send", "Alice", "You're offline, but the relay keeps this for you.")
    queues, stored = _relay_contents(root)
    _show_relay(console, queues, stored)
    alice.run("receive", "--wait", "0.5")
    alice.run("send", "Bob", "Hi Bob! Nobody but you can read this.")
    bob.run("receive", "--wait", "0.5")
    history = bob.run("history", "Alice", show=False)["messages"]
    _show_conversation(console, history)
    show_group_and_file(console, root, alice, bob)


def _show_relay(console: Console, queues: int, stored: list[tuple[str, int, str]]) -> None:
    table = Table(title=f"What the relay stores ({queues} queues)", show_lines=False)
    table.add_column("queue id (recipient)")
    table.add_column("bytes", justify="right")
    table.add_column("content (first 24 of them)")
    for queue_id, size, content in stored:
        table.add_row(queue_id + "…", str(size), content + "…")
    console.print(table)
    console.print(
        "Random ids and equal-sized ciphertext: no names, no text, no hint of who writes to whom.\n"
    )


def _show_conversation(console: Console, history: list[dict[str, Any]]) -> None:
    table = Table(title="Bob's history (decrypted only in Bob's encrypted store)")
    table.add_column("#")
    table.add_column("from")
    table.add_column("text")
    table.add_column("status")
    for message in history:
        sender = "Bob" if message["direction"] == "sent" else "Alice"
        table.add_row(str(message["id"]), sender, message["text"], message["receipt"])
    console.print(table)


def _two_terminals(console: Console) -> None:
    console.rule("[bold]Now you")
    console.print(
        "\n".join(
            [
                "In each terminal, from this checkout: source .venv/bin/activate",
                "Terminal 1 (a relay, then Alice):",
                "  veil-relay init --data ./relay && veil-relay start --data ./relay &",
                "  export RELAY=$(veil-relay address --data ./relay)",
                "  veil init --home ./alice --name Alice --relay $RELAY",
                "  veil invite --home ./alice                 # give Bob the link",
                "  veil receive --home ./alice --wait 10      # completes the connection",
                "  veil chat Bob --home ./alice",
                "Terminal 2 (Bob):",
                "  veil init --home ./bob --name Bob --relay RELAY-ADDRESS-FROM-TERMINAL-1",
                "  veil connect --home ./bob 'LINK'",
                "  veil receive --home ./bob && veil chat Alice --home ./bob",
                "Then compare `veil verify` codes out loud. See docs/users.md.",
            ]
        )
    )
