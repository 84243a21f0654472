"""Files through two running ``veil serve`` processes and a file relay: the file
methods answer in their schema, an offer within the limit downloads as it arrives,
a larger one on ``file.receive``, each followed by its events; the bot's send_file
helper; and the CLI's file commands beside a running service."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from e2e.service.test_api import SCHEMA, CheckedClient, next_events
from helpers.file_relays import start_file_relay
from helpers.veil_cli import COMMAND_TIMEOUT, VeilUser, connect
from helpers.veil_service import ServiceProcess
from veil.bot.actions import Actions
from veil.service.api_types import EventShape
from veil.service.client import ServiceClient

pytestmark = pytest.mark.slow

LIMIT = 1024 * 1024


@pytest.fixture
async def file_services(tmp_path: Path) -> AsyncIterator[tuple[ServiceProcess, ServiceProcess]]:
    """Alice and Bob on a file relay, connected, each with a running service."""
    relay = await start_file_relay(tmp_path / "relay")
    alice, bob = VeilUser(tmp_path / "a", "Alice"), VeilUser(tmp_path / "b", "Bob")
    for user in (alice, bob):
        await user.init(relay)
    await connect(alice, bob)
    started = [ServiceProcess(user) for user in (alice, bob)]
    for service in started:
        await service.start()
    yield started[0], started[1]
    for service in started:
        await service.kill()
    await relay.stop()


async def until_done(stream: Any, transfer: int | None) -> list[EventShape]:
    """Bob's events about ``transfer`` up to its ``file-done``, validated."""
    events = await next_events(stream, 1, ("file-progress", "file-done", "file-failed"))
    while events[-1]["id"] != transfer or events[-1]["kind"] == "file-progress":
        assert events[-1]["kind"] != "file-failed", events[-1]
        events += await next_events(stream, 1, ("file-progress", "file-done", "file-failed"))
    return [e for e in events if e["id"] == transfer]


async def test_files_through_two_services_auto_accepted_or_on_request(
    file_services: tuple[ServiceProcess, ServiceProcess], tmp_path: Path
) -> None:
    alice_service, bob_service = file_services
    alice = CheckedClient(await ServiceClient.connect(alice_service.home))
    bob = CheckedClient(await ServiceClient.connect(bob_service.home))
    assert bob.client.hello is not None
    bob_events = bob.client.events(bob.client.hello["last_event"])
    settings = await bob.call("file.settings", auto_accept_bytes=LIMIT)
    downloads = bob_service.home / "downloads"
    assert settings == {"auto_accept_bytes": LIMIT, "downloads": str(downloads)}

    note = tmp_path / "note.bin"
    note.write_bytes(os.urandom(300_000))
    sent = await alice.call("file.send", contact="Bob", path=str(note))
    assert (sent["contact"], sent["state"], sent["name"]) == ("Bob", "sent", "note.bin")
    (offer,) = await next_events(bob_events, 1, ("file",))
    done = (await until_done(bob_events, offer["id"]))[-1]
    saved = Path(done["text"])
    assert saved.parent == downloads  # nobody asked: within the limit
    assert saved.read_bytes() == note.read_bytes()

    video = tmp_path / "video.bin"
    video.write_bytes(os.urandom(6 * LIMIT))
    shape = await Actions(alice.client).send_file("Bob", video)  # the bot's helper
    result = SCHEMA["methods"]["file.send"]["result"]
    jsonschema.validate(shape, {**result, "definitions": SCHEMA["definitions"]})
    (offer,) = await next_events(bob_events, 1, ("file",))
    waiting = (await bob.call("file.list"))["transfers"]
    assert [(t["name"], t["state"]) for t in waiting] == [
        ("note.bin", "received"),
        ("video.bin", "offered"),  # above the limit: it waits
    ]
    inbox = tmp_path / "inbox"
    (got,) = (await bob.call("file.receive", id=offer["id"], to=str(inbox)))["received"]
    assert (got["state"], got["contact"]) == ("received", "Alice")
    assert got["path"] == str(inbox / "video.bin")
    assert Path(got["path"]).read_bytes() == video.read_bytes()
    events = await until_done(bob_events, offer["id"])
    progress = [e["text"] for e in events if e["kind"] == "file-progress"]
    assert progress[-1].startswith("down ") and len(progress) <= 21
    done_at, total = progress[-1].removeprefix("down ").split("/")
    assert done_at == total

    logged = (await alice.call("events", since=0))["events"]
    sends = [(e["kind"], e["id"]) for e in logged if e["kind"] == "file-done"]
    assert sends == [("file-done", sent["id"]), ("file-done", shape["id"])]
    assert any(e["kind"] == "file-progress" and e["text"].startswith("up ") for e in logged)
    bob_logged = (await bob.call("events", since=0))["events"]
    states = [(e["kind"], e["contact"], e["text"]) for e in bob_logged]
    assert ("connection", "Alice", "connected") in states
    assert {m for m in alice.called | bob.called if m.startswith("file.")} == {
        "file.send",
        "file.list",
        "file.receive",
        "file.settings",
    }
    await alice.client.close()
    await bob.client.close()


async def test_the_cli_file_commands_work_beside_veil_serve(
    file_services: tuple[ServiceProcess, ServiceProcess], tmp_path: Path
) -> None:
    alice, bob = (service.user for service in file_services)
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-" + os.urandom(4 * LIMIT))
    process = await alice.start("send-file", "Bob", str(report))
    stdout, stderr = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT)
    assert process.returncode == 0, stderr.decode()
    lines = [json.loads(line) for line in stdout.decode().splitlines()]
    assert lines[-1]["state"] == "sent" and lines[-1]["contact"] == "Bob"
    assert [line["direction"] for line in lines[:-1]][-1:] == ["up"]  # the bar's events came

    offered: list[dict[str, Any]] = []
    for _ in range(50):
        offered = [t for t in (await bob.run("files"))["transfers"] if t["state"] == "offered"]
        if offered:
            break
        await asyncio.sleep(0.2)
    (offer,) = offered
    inbox = tmp_path / "inbox"
    (got,) = (await bob.run("receive-file", str(offer["id"]), "--to", str(inbox)))["received"]
    assert Path(got["path"]).read_bytes() == report.read_bytes()
    assert (await bob.run("files", "--auto-accept", "2M"))["auto_accept_bytes"] == 2 * LIMIT
