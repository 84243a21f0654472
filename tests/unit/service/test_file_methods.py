"""The file methods and the new event kinds in one process, over the in-memory relay:
shapes as the schema says, the refusal of a contact below agent version 3, the
checks on parameters, and connection, relay and delivery events in the log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from helpers.fake_relay import FakeRelay
from helpers.messenger_pair import RELAY, messenger_pair
from veil.agent import connection as agent_connection
from veil.agent.events import ConnectionEvent, DesyncDetected, SyncRestored
from veil.chat.app import Messenger
from veil.chat.connection_events import REPORT_AFTER_FAILURES
from veil.chat.contacts import apply_connection_event
from veil.chat.errors import FilesNotSupported
from veil.service.methods import LocalApi, events_after
from veil.wire import VersionRange

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[3] / "docs" / "api" / "schema.json").read_text()
)


def checked(method: str, result: Any) -> Any:
    """``result`` after validating it against the method's schema."""
    schema = {**SCHEMA["methods"][method]["result"], "definitions": SCHEMA["definitions"]}
    jsonschema.validate(result, schema)
    return result


def _kinds(messenger: Messenger) -> list[tuple[str, str | None, str]]:
    return [(e["kind"], e["contact"], e["text"]) for e in events_after(messenger, 0, 500)[0]]


@pytest.fixture
def agent_v2(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Connections made meanwhile agree agent version 2 (a Veil from before files)."""
    monkeypatch.setattr(agent_connection, "AGENT_VERSIONS", VersionRange(1, 2))
    yield


async def test_settings_and_list_answer_in_their_schema(tmp_path: Path) -> None:
    alice, bob = await messenger_pair(tmp_path, FakeRelay())
    api = LocalApi(alice)
    settings = checked("file.settings", await api.call("file.settings", {}))
    assert settings == {"auto_accept_bytes": 0, "downloads": str(tmp_path / "alice/downloads")}
    changed = await api.call("file.settings", {"auto_accept_bytes": 20 * 1024 * 1024})
    assert checked("file.settings", changed)["auto_accept_bytes"] == 20 * 1024 * 1024
    listed = checked("file.list", await api.call("file.list"))
    assert listed == {"transfers": [], "uploading": [], "auto_accept_bytes": 20 * 1024 * 1024}
    with pytest.raises(ValueError, match="cannot be negative"):
        await api.call("file.settings", {"auto_accept_bytes": -1})
    for messenger in (alice, bob):
        await messenger.close()


async def test_paths_must_be_absolute_and_receive_needs_an_id_or_auto(tmp_path: Path) -> None:
    alice, bob = await messenger_pair(tmp_path, FakeRelay())
    api = LocalApi(alice)
    with pytest.raises(ValueError, match="absolute path"):
        await api.call("file.send", {"contact": "bob", "path": "notes.txt"})
    with pytest.raises(ValueError, match="no file at"):
        await api.call("file.send", {"contact": "bob", "path": str(tmp_path / "missing")})
    for params in ({}, {"id": 1, "auto": True}):
        with pytest.raises(ValueError, match="either a file id"):
            await api.call("file.receive", params)
    assert checked("file.receive", await api.call("file.receive", {"auto": True})) == {
        "received": []
    }
    for messenger in (alice, bob):
        await messenger.close()


async def test_a_file_to_a_contact_below_agent_version_3_is_refused_saying_to_update(
    tmp_path: Path, agent_v2: None
) -> None:
    alice, bob = await messenger_pair(tmp_path, FakeRelay())
    assert alice.agent.connection(1).agent_version == 2
    source = tmp_path / "notes.txt"
    source.write_text("hello")
    with pytest.raises(FilesNotSupported, match="ask bob to update Veil") as refused:
        await LocalApi(alice).call("file.send", {"contact": "bob", "path": str(source)})
    assert refused.value.code == 632
    assert not (tmp_path / "alice" / "files").exists()  # nothing was uploaded
    assert checked("file.list", await LocalApi(alice).call("file.list"))["transfers"] == []
    for messenger in (alice, bob):
        await messenger.close()


async def test_status_changes_and_a_removed_contact_are_logged(tmp_path: Path) -> None:
    alice, bob = await messenger_pair(tmp_path, FakeRelay())
    assert ("connection", "bob", "connected") in _kinds(alice)
    assert ("connection", "alice", "connected") in _kinds(bob)
    await LocalApi(alice).call("remove", {"contact": "bob"})
    assert _kinds(alice)[-1] == ("connection", "bob", "deleted")
    for messenger in (alice, bob):
        await messenger.close()


async def test_an_unreachable_relay_and_its_return_are_logged_once_each(tmp_path: Path) -> None:
    relay = FakeRelay()
    alice, bob = await messenger_pair(tmp_path, relay)
    relay.down = True
    api = LocalApi(alice)
    for text in ("one", "two"):
        await api.call("send", {"contact": "bob", "texts": [text]})
    relay.down = False
    await alice.agent.outbox.flush(force=True)
    relays = [e for e in _kinds(alice) if e[0].startswith("relay-")]
    assert relays == [("relay-unreachable", "bob", RELAY), ("relay-reachable", "bob", RELAY)]
    for messenger in (alice, bob):
        await messenger.close()


async def test_a_refused_send_is_a_delivery_failure_naming_the_message(tmp_path: Path) -> None:
    relay = FakeRelay()
    alice, bob = await messenger_pair(tmp_path, relay)
    relay.quota = 0  # bob's queue is full: the relay refuses every send
    sent = await LocalApi(alice).call("send", {"contact": "bob", "texts": ["lost"]})
    (failure,) = [e for e in events_after(alice, 0, 500)[0] if e["kind"] == "delivery-failed"]
    assert (failure["contact"], failure["id"]) == ("bob", sent["sent"][0])
    assert "QUOTA" in failure["text"]
    assert not [e for e in _kinds(alice) if e[0] == "relay-unreachable"]  # it answered
    for messenger in (alice, bob):
        await messenger.close()


async def test_a_send_failing_for_long_is_reported_once(tmp_path: Path) -> None:
    relay = FakeRelay()
    alice, bob = await messenger_pair(tmp_path, relay)
    relay.down = True
    sent = await LocalApi(alice).call("send", {"contact": "bob", "texts": ["waiting"]})
    for _ in range(REPORT_AFTER_FAILURES + 2):
        await alice.agent.outbox.flush(force=True)
    failures = [e for e in events_after(alice, 0, 500)[0] if e["kind"] == "delivery-failed"]
    assert [(e["id"], e["contact"]) for e in failures] == [(sent["sent"][0], "bob")]
    assert f"tried {REPORT_AFTER_FAILURES} times" in failures[0]["text"]
    for messenger in (alice, bob):
        await messenger.close()


async def test_a_desynchronised_contact_and_its_return_are_logged_once_each(
    tmp_path: Path,
) -> None:
    alice, bob = await messenger_pair(tmp_path, FakeRelay())
    with alice.store.transaction() as tx:
        (connection_id,) = [c.connection_id for c in tx.connections.list()]
    for event in (DesyncDetected("bad"), DesyncDetected("bad again"), SyncRestored()):
        with alice.store.transaction() as tx:
            apply_connection_event(tx, ConnectionEvent(connection_id, event), alice.now())
    states = [text for kind, _, text in _kinds(alice) if kind == "connection"]
    assert states == ["connected", "desynchronised", "connected"]
    for messenger in (alice, bob):
        await messenger.close()
