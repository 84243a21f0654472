"""Backup and restore through the CLI with real processes: Alice backs up, the two
keep talking (with DH turns), Alice's machine is wiped, she restores into a new
folder, and both continue without anyone running ``veil repair``."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

from helpers.relay_process import RelayProcess
from helpers.veil_cli import VeilUser, connect, receive_until

BACKUP_PASSPHRASE = "a long backup passphrase"


async def _texts(user: VeilUser, contact: str) -> Counter[str]:
    return Counter(m["text"] for m in await user.history(contact))


async def _talk(sender: VeilUser, receiver: VeilUser, contact: str, texts: list[str]) -> None:
    await sender.run("send", contact, *texts)
    arrived = [e for e in await receive_until(receiver, len(texts)) if e["kind"] == "message"]
    assert [e["text"] for e in arrived] == texts


async def test_a_restored_profile_resumes_with_its_contact_without_repair(
    relay: RelayProcess, users: dict[str, VeilUser], tmp_path: Path
) -> None:
    alice, bob = users["Alice"], users["Bob"]
    alice.env["VEIL_BACKUP_PASSPHRASE"] = BACKUP_PASSPHRASE
    await alice.init(relay)
    await bob.init(relay)
    await connect(alice, bob)
    await _talk(alice, bob, "Bob", ["before the backup"])
    backup = tmp_path / "alice.backup"
    assert (await alice.run("backup", "--to", str(backup), "--fast-kdf"))["bytes"] > 0

    bob_after_backup: list[str] = []
    alice_after_backup: list[str] = []
    for turn in range(5):  # 50 messages, a DH turn at every change of direction
        texts = [f"turn {turn} message {n}" for n in range(10)]
        sender, receiver, contact = (bob, alice, "Alice") if turn % 2 == 0 else (alice, bob, "Bob")
        await _talk(sender, receiver, contact, texts)
        (bob_after_backup if sender is bob else alice_after_backup).extend(texts)
    shutil.rmtree(alice.home)  # Alice's machine is wiped

    restored = VeilUser(tmp_path / "new machine", "Alice")
    restored.env["VEIL_BACKUP_PASSPHRASE"] = BACKUP_PASSPHRASE
    result = await restored.run("restore", str(backup), "--fast-kdf")
    assert (result["contacts"], result["repairs"]) == (1, 1)
    assert "repaired" in [e["kind"] for e in await receive_until(bob, 1)]
    # Bob's 30 messages after the backup reached only the wiped machine: he sends
    # them again, and the restored profile has them.
    arrived = await receive_until(restored, 1 + len(bob_after_backup))
    assert arrived[0]["kind"] == "repaired"
    assert [e["text"] for e in arrived[1:]] == bob_after_backup

    await _talk(bob, restored, "Alice", ["are you back?"])
    await _talk(restored, bob, "Bob", ["yes, from my backup"])
    bob_history, alice_history = await _texts(bob, "Alice"), await _texts(restored, "Bob")
    expected_everywhere = ["before the backup", "are you back?", "yes, from my backup"]
    for text in expected_everywhere:
        assert bob_history[text] == alice_history[text] == 1
    for text in bob_after_backup:
        assert bob_history[text] == alice_history[text] == 1
    for text in alice_after_backup:  # sent by the wiped machine: in Bob's history only
        assert (bob_history[text], alice_history[text]) == (1, 0)
    assert max(alice_history.values()) == 1  # nothing twice
    assert (await restored.run("verify", "Bob"))["code"] == (await bob.run("verify", "Alice"))[
        "code"
    ]
    assert (await bob.run("contacts"))["contacts"][0]["status"] == "connected"
