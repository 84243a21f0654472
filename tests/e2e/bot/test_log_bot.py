"""The log bot example as a real process: it keeps its contact's conversation in a
JSON-lines file, in the order of the service's log, and answers /log and /forget;
it joins a group by link and keeps the group's log too, answering in the group."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from helpers.bot_process import BotWorld, ask, connect_to_bot, next_event
from veil.service import api_types as t
from veil.service.client import ServiceClient

pytestmark = pytest.mark.slow


async def test_the_log_bot_keeps_a_log_of_the_conversation(
    log_world: BotWorld, tmp_path: Path
) -> None:
    async with await ServiceClient.connect(log_world.alice.home) as alice:
        events = alice.events(alice.hello["last_event"] if alice.hello else 0)
        bot = await connect_to_bot(alice, log_world.bot_user.home, events)
        sent = await alice.call("send", {"contact": bot, "texts": ["hello", "second"]})
        first = sent["sent"][0]
        await alice.call("edit", {"contact": bot, "message_id": first, "text": "hello!"})
        await alice.call("react", {"contact": bot, "message_id": first, "emoji": "👍"})
        count = await ask(alice, events, bot, "/log")
        assert count["text"] == "I have logged 5 entries of our conversation."
        lines = (tmp_path / "logs" / "Alice.jsonl").read_text(encoding="utf-8").splitlines()
        logged = [json.loads(line) for line in lines]
        assert [(e["kind"], e["text"]) for e in logged] == [
            ("message", "hello"),
            ("message", "second"),
            ("edit", "hello!"),
            ("reaction", "👍"),
            ("message", "/log"),
        ]
        assert [e["seq"] for e in logged] == sorted(e["seq"] for e in logged)
        assert logged[0]["message_id"] == logged[2]["message_id"] == logged[3]["message_id"]
        assert (await ask(alice, events, bot, "/forget"))["text"] == "Forgotten."
        assert not (tmp_path / "logs" / "Alice.jsonl").exists()


async def _group_event(events: AsyncIterator[t.EventShape], kind: str) -> t.EventShape:
    """The next event of ``kind`` in a group."""
    while True:
        event = await next_event(events, kind)
        if event.get("group") is not None:
            return event


async def _request(alice: ServiceClient) -> int:
    """The bot's contact request to Alice's address (the bot asks before it answers,
    so its request event may come before the answer and be skipped)."""
    for _ in range(600):
        pending = (await alice.call("requests"))["requests"]
        if pending:
            return int(pending[0]["id"])
        await asyncio.sleep(0.1)
    raise AssertionError("the bot sent no contact request")


async def test_the_log_bot_joins_a_group_by_link_and_logs_it(
    log_world: BotWorld, tmp_path: Path
) -> None:
    async with await ServiceClient.connect(log_world.alice.home) as alice:
        events = alice.events(alice.hello["last_event"] if alice.hello else 0)
        bot = await connect_to_bot(alice, log_world.bot_user.home, events)
        await alice.call("group.create", {"name": "Night owls", "alias": "owls"})
        link = (await alice.call("group.invite", {"group": "owls"}))["link"]
        answer = await ask(alice, events, bot, f"/join {link} owls")
        assert answer["text"] == "Asked to join; I log owls once an admin lets me in."
        await alice.call("accept", {"request_id": await _request(alice)})
        joined = await _group_event(events, "member-joined")
        assert (joined["group"], joined["sender"]) == ("owls", "Bot")
        sent = await alice.call("group.send", {"group": "owls", "texts": ["first light", "/log"]})
        assert len(sent["sent"]) == 2
        reply = await _group_event(events, "message")
        assert (reply["group"], reply["sender"], reply["text"]) == (
            "owls",
            "Bot",
            "I have logged 2 entries of this group.",
        )
        history = (await alice.call("group.history", {"group": "owls"}))["messages"]
        by_seq = {m["seq"]: m for m in history}
        assert by_seq[reply["id"] or 0]["reply_to"] == history[1]["id"]  # it quotes /log
    lines = (tmp_path / "logs" / "groups" / "owls.jsonl").read_text(encoding="utf-8")
    logged = [json.loads(line) for line in lines.splitlines()]
    assert [(e["kind"], e["sender"], e["text"]) for e in logged] == [
        ("message", "Alice", "first light"),
        ("message", "Alice", "/log"),
    ]
    assert [e["message_id"] for e in logged] == [history[0]["seq"], history[1]["seq"]]
