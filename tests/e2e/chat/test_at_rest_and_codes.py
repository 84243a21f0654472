"""Nothing readable at rest, and security codes that expose a man in the middle."""

from __future__ import annotations

from pathlib import Path

from helpers.relay_process import RelayProcess
from helpers.veil_cli import VeilUser, connect

MARKER = "zebra-quartz-7431 the marker nobody may store in clear"


def _files_containing(root: Path, needles: list[bytes]) -> list[tuple[str, bytes]]:
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [(str(path), needle) for needle in needles if needle in data]
    return found


async def test_relay_and_client_homes_hold_no_marker_and_no_profile_name(
    tmp_path: Path, relay: RelayProcess
) -> None:
    # Long, distinctive names: a short one ("Bob") turns up in random ciphertext by chance.
    alice = VeilUser(tmp_path / "alice", "Alice Quillfeather-8842")
    bob = VeilUser(tmp_path / "bob", "Bob Marrowstone-5519")
    for user in (alice, bob):
        await user.init(relay)
    await connect(alice, bob)
    await alice.run("send", bob.name, MARKER)
    await bob.receive()
    await bob.run("send", alice.name, MARKER + " back")
    await alice.receive()
    assert [m["text"] for m in await bob.history(alice.name)] == [MARKER, MARKER + " back"]
    await relay.stop()  # flush the relay's logs and WAL to disk before reading them

    needles = [MARKER.encode(), MARKER.encode("utf-16-le"), alice.name.encode(), bob.name.encode()]
    for root in (relay.data_dir, alice.home, bob.home):
        assert _files_containing(root, needles) == []
    logs = relay.log_file.read_bytes()
    assert [needle for needle in needles if needle in logs] == []


async def test_security_codes_match_and_a_substituted_link_shows_up(
    relay: RelayProcess, users: dict[str, VeilUser], tmp_path: Path
) -> None:
    alice, bob = users["Alice"], users["Bob"]
    for user in (alice, bob):
        await user.init(relay)
    await connect(alice, bob)
    alice_code = (await alice.run("verify", "Bob"))["code"]
    bob_code = (await bob.run("verify", "Alice"))["code"]
    assert alice_code == bob_code
    checked = await bob.run("verify", "Alice", "--code", alice_code)
    assert checked["verified"] is True
    assert (checked["pq"], checked["ratchet_version"], checked["code_version"]) == (True, 2, 2)
    # A truncated code is a typing slip: an error, no warning, the mark stays.
    short = await bob.run("verify", "Alice", "--code", alice_code[:-6], ok=False)
    assert short["kind"] == "IncompleteSecurityCode"
    assert (await bob.run("contacts"))["contacts"][0]["verified"] is True

    # Mallory intercepts Carol's link to Dave: she joins it as "Dave" and hands Dave
    # a link of her own as "Carol", then relays between the two connections.
    carol, dave = users["Carol"], users["Dave"]
    as_dave, as_carol = VeilUser(tmp_path / "m1", "Dave"), VeilUser(tmp_path / "m2", "Carol")
    for user in (carol, dave, as_dave, as_carol):
        await user.init(relay)
    await connect(carol, as_dave)
    await connect(as_carol, dave)
    assert (await dave.run("contacts"))["contacts"][0]["alias"] == "Carol"
    carol_code = (await carol.run("verify", "Dave"))["code"]
    dave_code = (await dave.run("verify", "Carol"))["code"]
    assert carol_code != dave_code
    mismatch = await dave.run("verify", "Carol", "--code", carol_code, ok=False)
    assert mismatch["verified"] is False  # and the command exits 1 (run checks it below)
    process = await dave.start("verify", "Carol", "--code", carol_code)
    assert await process.wait() == 1
    human = await dave.run_text("verify", "Carol", "--code", carol_code)
    assert "the codes DIFFER" in human
