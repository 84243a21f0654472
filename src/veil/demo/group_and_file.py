"""Demo, second part: the same two people start a group and share a file, through
the CLI and the same relay (which also keeps the group's log and the file's chunks).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.table import Table

__all__ = ["show_group_and_file"]

#: ``veil receive`` / ``veil group sync`` rounds before a step is given up on.
_ROUNDS = 10
_GROUP = "hike"
_NOTE = "Meet at the station, platform 2, 9:00. Bring water."


class Profile(Protocol):
    """One demo profile: runs a ``veil`` command and returns its ``--json`` output."""

    def run(self, *args: str, show: bool = True) -> dict[str, Any]:
        """Run ``veil ARGS`` for this profile."""
        ...


def show_group_and_file(console: Console, root: Path, alice: Profile, bob: Profile) -> None:
    """Alice starts a group, Bob joins it by link, both post; then Alice sends Bob a
    file, which he downloads; the relay's copy of it is shown as what it is."""
    console.rule("[bold]A group and a file")
    alice.run("group", "create", "Weekend hike", "--alias", _GROUP)
    link = alice.run("group", "invite", _GROUP)["link"]
    bob.run("group", "join", link, "--alias", _GROUP)
    alice.run("accept", str(_next_event(alice, "request")["request"]))

    # His request travels to Alice, her client adds him, his enters from the welcome.
    def joined() -> bool:
        return _GROUP in bob.run("group", "list", show=False)["groups"]

    _sync_until([alice, bob], joined, "Bob's join")
    bob.run("send", _GROUP, "Count me in!")
    alice.run("send", _GROUP, "Saturday it is. Same order for everyone in the group.")
    history: list[dict[str, Any]] = []

    def both_posts() -> bool:
        history[:] = bob.run("history", _GROUP, show=False)["messages"]
        return len(history) == 2

    _sync_until([alice, bob], both_posts, "The group's two posts")
    _show_group(console, history)

    note = root / "route.txt"
    note.write_text(_NOTE + "\n", encoding="utf-8")
    alice.run("send-file", "Bob", str(note))
    offer = _next_event(bob, "file")
    received = bob.run("receive-file", str(offer["id"]), "--to", str(root / "downloads"))
    saved = Path(received["received"][0]["path"])
    console.print(f"Bob's copy says: [bold]{saved.read_text(encoding='utf-8').strip()}[/bold]")
    _show_chunks(console, root / "relay" / "files" / "bodies")


def _next_event(profile: Profile, kind: str) -> dict[str, Any]:
    """Receive until an event of ``kind`` arrives."""
    for _ in range(_ROUNDS):
        events: list[dict[str, Any]] = profile.run("receive", "--wait", "0.5")["events"]
        for event in events:
            if event["kind"] == kind:
                return event
    raise RuntimeError(f"no {kind} arrived: is the relay still running?")


def _sync_until(profiles: list[Profile], done: Callable[[], bool], what: str) -> None:
    """Sync every profile's groups, round after round, until ``done``."""
    for _ in range(_ROUNDS):
        for profile in profiles:
            profile.run("group", "sync", "--idle", "0.5", show=False)
        if done():
            return
    raise RuntimeError(f"{what} did not complete")


def _show_group(console: Console, messages: list[dict[str, Any]]) -> None:
    table = Table(title=f"The group as Bob's client shows it ({len(messages)} messages)")
    table.add_column("#")
    table.add_column("from")
    table.add_column("text")
    for message in messages:
        table.add_row(str(message["seq"]), message["name"], message["text"])
    console.print(table)
    console.print(
        "The relay keeps the group's log: it orders posts it cannot read, "
        "from members it cannot name.\n"
    )


def _show_chunks(console: Console, files: Path) -> None:
    chunks = sorted(path for path in files.rglob("*") if path.is_file())
    sizes = ", ".join(f"{path.stat().st_size:,}" for path in chunks)
    console.print(
        f"On the relay the file is {len(chunks)} encrypted chunk file(s) ({sizes} bytes), "
        "padded to a size class, under random ids: no name, no text, no recipient.\n"
    )
