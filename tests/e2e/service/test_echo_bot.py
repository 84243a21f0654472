"""The echo bot example as a real process, over a real ``veil serve`` per profile and
one relay: it accepts a contact through its address, answers commands, and after a
restart neither misses nor repeats a message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from helpers.bot_process import BotProcess, connect_to_bot, next_event
from helpers.relay_process import RelayProcess
from helpers.veil_cli import VeilUser
from helpers.veil_service import ServiceProcess
from veil.service import api_types as t
from veil.service.client import ServiceClient

pytestmark = pytest.mark.slow


class BotWorld:
    """Alice and an echo-bot profile on one relay, each with its ``veil serve``."""

    def __init__(self, tmp_path: Path) -> None:
        self.alice = VeilUser(tmp_path / "alice", "Alice")
        self.bot_user = VeilUser(tmp_path / "bot", "EchoBot")
        self.services = [ServiceProcess(self.alice), ServiceProcess(self.bot_user)]
        self.bot = BotProcess("echo_bot", self.bot_user)

    async def start(self, relay: RelayProcess) -> None:
        for user in (self.alice, self.bot_user):
            await user.init(relay)
        for service in self.services:
            await service.start()
        await self.bot.start()

    async def stop(self) -> None:
        await self.bot.kill()
        for service in self.services:
            await service.kill()


@pytest.fixture
async def world(relay: RelayProcess, tmp_path: Path) -> AsyncIterator[BotWorld]:
    started = BotWorld(tmp_path)
    await started.start(relay)
    yield started
    await started.stop()


async def ask(
    client: ServiceClient, events: AsyncIterator[t.EventShape], bot: str, text: str
) -> t.EventShape:
    """Send ``text`` to the bot; its answer (the next message event)."""
    await client.call("send", {"contact": bot, "texts": [text]})
    return await next_event(events, "message")


async def test_the_echo_bot_accepts_a_contact_and_answers_commands(world: BotWorld) -> None:
    async with await ServiceClient.connect(world.alice.home) as alice:
        events = alice.events(alice.hello["last_event"] if alice.hello else 0)
        bot = await connect_to_bot(alice, world.bot_user.home, events)
        assert (await ask(alice, events, bot, "/echo hello bot"))["text"] == "hello bot"
        help_text = (await ask(alice, events, bot, "/help"))["text"]
        assert "/echo - send back what follows /echo" in help_text
        assert "send /help" in (await ask(alice, events, bot, "just chatting"))["text"]
        assert "/nope" in (await ask(alice, events, bot, "/nope"))["text"]
        history = (await alice.call("history", {"contact": bot}))["messages"]
        answers = [m for m in history if m["direction"] == "received"]
        assert all(m["reply_to"] is not None for m in answers)  # each quotes its question


async def test_a_restarted_bot_answers_what_came_meanwhile_once(world: BotWorld) -> None:
    async with await ServiceClient.connect(world.alice.home) as alice:
        events = alice.events(alice.hello["last_event"] if alice.hello else 0)
        bot = await connect_to_bot(alice, world.bot_user.home, events)
        assert (await ask(alice, events, bot, "/echo before"))["text"] == "before"
        assert await world.bot.stop() == 0
        await alice.call("send", {"contact": bot, "texts": ["/echo while away", "/echo 2"]})
        await world.bot.start()
        answers = [(await next_event(events, "message"))["text"] for _ in range(2)]
        assert answers == ["while away", "2"]
        assert (await ask(alice, events, bot, "/echo after"))["text"] == "after"
        history = (await alice.call("history", {"contact": bot}))["messages"]
        received = [m["text"] for m in history if m["direction"] == "received"]
        assert received == ["before", "while away", "2", "after"]
