"""The echo bot example as a real process, over a real ``veil serve`` per profile
and one relay: it accepts a contact through its address and answers commands; after
its own restart, and after its service is killed, it answers what came meanwhile
exactly once; it runs over the WebSocket too."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.bot_process import BotProcess, BotWorld, ask, connect_to_bot, next_event
from helpers.relay_process import RelayProcess, free_port
from veil.service.client import ServiceClient

pytestmark = pytest.mark.slow


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


@pytest.mark.parametrize("down", ["bot", "service"], ids=["bot-restarted", "service-killed"])
async def test_what_came_while_down_is_answered_exactly_once(world: BotWorld, down: str) -> None:
    """The bot stops cleanly and starts again, or its service is killed with SIGKILL
    and restarted (the bot reconnects by itself)."""
    async with await ServiceClient.connect(world.alice.home) as alice:
        events = alice.events(alice.hello["last_event"] if alice.hello else 0)
        bot = await connect_to_bot(alice, world.bot_user.home, events)
        assert (await ask(alice, events, bot, "/echo before"))["text"] == "before"
        if down == "bot":
            assert await world.bot.stop() == 0
        else:
            await world.services[1].kill()
        await alice.call("send", {"contact": bot, "texts": ["/echo while down", "/echo 2"]})
        await (world.bot.start() if down == "bot" else world.services[1].start())
        answers = [(await next_event(events, "message"))["text"] for _ in range(2)]
        assert answers == ["while down", "2"]
        assert (await ask(alice, events, bot, "/echo after"))["text"] == "after"
        history = (await alice.call("history", {"contact": bot}))["messages"]
        received = [m["text"] for m in history if m["direction"] == "received"]
        assert received == ["before", "while down", "2", "after"]
    assert world.bot.process is not None and world.bot.process.returncode is None


async def test_a_bot_over_the_websocket_with_its_own_cursor(
    relay: RelayProcess, tmp_path: Path
) -> None:
    port = free_port()
    world = BotWorld(tmp_path, serve=("--listen", f"127.0.0.1:{port}"))
    cursor = tmp_path / "echo.cursor"
    try:
        await world.start_services(relay)
        ready = world.services[1].ready
        assert ready["websocket"] == f"ws://127.0.0.1:{port}"
        world.bot = BotProcess(
            "echo_bot",
            world.bot_user,
            *("--url", ready["websocket"], "--token-file", ready["token_file"]),
            *("--cursor", str(cursor)),
        )
        await world.bot.start()
        async with await ServiceClient.connect(world.alice.home) as alice:
            events = alice.events(alice.hello["last_event"] if alice.hello else 0)
            bot = await connect_to_bot(alice, world.bot_user.home, events)
            assert (await ask(alice, events, bot, "/echo over the web"))["text"] == "over the web"
        assert b'"last_seq"' in cursor.read_bytes()
        assert not (world.bot_user.home / "bot-echo.cursor").exists()
    finally:
        await world.stop()
