"""Mixed versions with real processes: a client from before ratchet v2 (ratchet
``1..1``, agent ``1..1``, link format 1), built from this repository's history,
talks to today's client through today's relay."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.relay_process import RelayProcess
from helpers.veil_cli import VeilUser, connect, receive_until

#: The last commit before ratchet v2 was merged: its client speaks ratchet 1..1.
V1_ONLY_COMMIT = "392e33fd74df1d33ad2459e1c7411a64e6e8e582"
#: The last commit before agent version 3 (frames sealed to their queue): agent 1..2.
AGENT_V2_COMMIT = "6ecea7e8d174053a4d4509877e246df017908335"
_REPOSITORY = Path(__file__).resolve().parents[3]


class OldVeilUser(VeilUser):
    """A profile driven by an old client's CLI (``veil.chat.cli`` before the CLI moved
    to ``veil.cli.main``)."""

    def __init__(self, home: Path, name: str, source: Path, cli: str = "veil.chat.cli") -> None:
        super().__init__(home, name)
        self.env["PYTHONPATH"] = str(source)
        self._cli = cli

    def _argv(self, args: tuple[str, ...]) -> list[str]:
        runner = f"import sys; from {self._cli} import main; sys.exit(main())"
        return [sys.executable, "-c", runner, *args, "--home", str(self.home), "--json"]


def _old_source(target: Path, commit: str = V1_ONLY_COMMIT) -> Path:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is needed to build the old client")
    archive = subprocess.run(
        [git, "-C", str(_REPOSITORY), "archive", commit, "src"],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        pytest.skip("the repository history does not hold the old client")
    target.mkdir()
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target / "src"


async def test_a_v1_only_client_and_todays_client_talk(
    relay: RelayProcess, users: dict[str, VeilUser], tmp_path: Path
) -> None:
    source = await asyncio.to_thread(_old_source, tmp_path / "old")
    old = OldVeilUser(tmp_path / "old-alice", "Alice", source)
    new = users["Bob"]
    await old.init(relay)
    await new.init(relay)
    await connect(old, new)  # the old client invites: a format 1 link
    async with asyncio.timeout(120):
        while (await new.run("contacts"))["contacts"][0]["status"] != "connected":
            await old.receive()
            await new.receive()
    contact = (await new.run("contacts"))["contacts"][0]
    assert (contact["ratchet_version"], contact["pq"]) == (1, True)
    for turn in range(3):  # DH turns both ways: the session stays at ratchet v1
        await old.run("send", "Bob", f"old {turn}")
        assert [e["text"] for e in await receive_until(new, 1)] == [f"old {turn}"]
        await new.run("send", "Alice", f"new {turn}")
        arrived = await receive_until(old, 1)
        assert [e["text"] for e in arrived if e["kind"] == "message"] == [f"new {turn}"]
    codes = (await old.run("verify", "Bob"))["code"], (await new.run("verify", "Alice"))["code"]
    assert codes[0] == codes[1]  # a v1 code, the same on both sides
    assert (await new.run("verify", "Alice"))["code_version"] == 1


async def _talk(first: VeilUser, second: VeilUser) -> None:
    """Both connected, then a message each way."""
    async with asyncio.timeout(120):
        while {c["status"] for c in (await second.run("contacts"))["contacts"]} != {"connected"}:
            await first.receive()
            await second.receive()
    await first.run("send", second.name, "from the first")
    assert "from the first" in [e.get("text") for e in await receive_until(second, 1)]
    await second.run("send", first.name, "from the second")
    assert "from the second" in [e.get("text") for e in await receive_until(first, 1)]


async def test_an_agent_v2_client_and_todays_client_talk_in_clear_frames(
    relay: RelayProcess, users: dict[str, VeilUser], tmp_path: Path
) -> None:
    source = await asyncio.to_thread(_old_source, tmp_path / "old", AGENT_V2_COMMIT)
    old_alice = OldVeilUser(tmp_path / "old-alice", "Alice", source, "veil.cli.main")
    bob = users["Bob"]
    await old_alice.init(relay)
    await bob.init(relay)
    await connect(old_alice, bob)  # the v2 client invites: agent 1..2 in its link
    await _talk(old_alice, bob)
    # Today's client invites (agent 1..3); the v2 client joins and answers in the clear.
    carol = users["Carol"]
    old_dave = OldVeilUser(tmp_path / "old-dave", "Dave", source, "veil.cli.main")
    await carol.init(relay)
    await old_dave.init(relay)
    await connect(carol, old_dave)
    await _talk(carol, old_dave)
