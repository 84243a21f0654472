"""The log bot example as a real process: it keeps its contact's conversation in a
JSON-lines file, in the order of the service's log, and answers /log and /forget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.bot_process import BotWorld, ask, connect_to_bot
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
