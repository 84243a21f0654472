"""The bot's event loop against an in-memory service: commands, messages, events,
contact requests, the cursor, and failures of handlers and of the connection."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from unit.bot.fake_service import FakeService, event
from veil.bot import Bot, Command, CommandTaken, Cursor, CursorTooOld, Event, Message
from veil.service import api_types as t
from veil.service.errors import ServiceClosed


def echo_bot() -> Bot:
    bot = Bot("echo")

    @bot.command("echo", help="repeat what follows")
    async def echo(command: Command) -> None:
        await command.reply(command.args)

    return bot


async def serve(bot: Bot, service: FakeService, cursor: Cursor) -> None:
    """Run ``bot`` over ``service`` until the fake log runs out (the service closes)."""
    with pytest.raises(ServiceClosed):
        await bot.serve(service, cursor)


@pytest.fixture
def cursor(tmp_path: Path) -> Cursor:
    opened = Cursor(tmp_path / "bot.cursor")
    opened.open()
    return opened


async def test_a_command_is_answered_quoting_it_and_the_cursor_moves(cursor: Cursor) -> None:
    service = FakeService([event(1, text="/echo  hello there "), event(2, text="/ECHO x")])
    await serve(echo_bot(), service, cursor)
    assert service.sent() == [
        {"contact": "Alice", "texts": ["hello there"], "reply_to": 101},
        {"contact": "Alice", "texts": ["x"], "reply_to": 102},
    ]
    assert cursor.last_seq == 2
    assert b'"last_seq": 2' in cursor.path.read_bytes()


async def test_help_lists_the_commands_and_an_unknown_command_is_answered(cursor: Cursor) -> None:
    bot = echo_bot()

    @bot.command("ping")
    async def ping(command: Command) -> None:
        await command.answer("pong")

    service = FakeService([event(1, text="/help"), event(2, text="/frobnicate now")])
    await serve(bot, service, cursor)
    help_text, unknown = (sent["texts"][0] for sent in service.sent())
    assert help_text.splitlines() == [
        "echo understands:",
        "/echo - repeat what follows",
        "/ping",
        "/help - this list",
    ]
    assert "/frobnicate" in unknown and "/help" in unknown


async def test_plain_messages_and_every_event_reach_their_handlers(cursor: Cursor) -> None:
    bot = echo_bot()
    messages: list[Message] = []
    everything: list[Event] = []
    edits: list[Event] = []

    @bot.on_message
    async def keep(message: Message) -> None:
        messages.append(message)
        await message.react("👍")

    @bot.on_event()
    async def log_all(seen: Event) -> None:
        everything.append(seen)

    @bot.on_event("edit")
    async def log_edit(seen: Event) -> None:
        edits.append(seen)

    log = [event(1, text="plain words"), event(2, "edit", "fixed"), event(3, text="/echo e")]
    service = FakeService(log)
    await serve(bot, service, cursor)
    assert [m.text for m in messages] == ["plain words"]
    assert not isinstance(messages[0], Command)
    assert [e.seq for e in everything] == [1, 2, 3]
    assert [(e.kind, e.text, e.message_id) for e in edits] == [("edit", "fixed", 102)]
    react = [params for method, params in service.calls if method == "react"]
    assert react == [{"contact": "Alice", "message_id": 101, "emoji": "👍", "remove": False}]


async def test_contact_requests_are_accepted_on_the_bot_address_once(cursor: Cursor) -> None:
    bot = echo_bot()
    accepted: list[t.ContactShape] = []

    @bot.on_contact
    async def greet(contact: t.ContactShape) -> None:
        accepted.append(contact)

    request = {"contact": None, "id": None}
    service = FakeService([event(1, "request", "Guest7", request=7, **request)])
    service.pending = [{"id": 7, "name": "Guest7"}, {"id": 8, "name": "Guest8"}]
    await serve(bot, service, cursor)
    assert bot.address == "veil://address#bot"
    assert [name for name, _ in service.calls[:2]] == ["address.show", "address.create"]
    accepts = [params["request_id"] for method, params in service.calls if method == "accept"]
    assert accepts == [7, 8]  # the event for 7 found it accepted already
    assert [c["alias"] for c in accepted] == ["Guest7", "Guest8"]


async def test_a_bot_keeps_the_address_it_has_and_acts_on_its_own(cursor: Cursor) -> None:
    bot = echo_bot()

    @bot.on_event("connected")
    async def greet(seen: Event) -> None:
        assert seen.contact is not None
        assert await bot.actions.history(seen.contact, limit=5) == []
        await bot.actions.send(seen.contact, "welcome", "try /help")

    service = FakeService([event(1, "connected", "", id=None)])
    service.address = "veil://address#kept"
    await serve(bot, service, cursor)
    assert bot.address == "veil://address#kept"
    assert [method for method, _ in service.calls] == [
        "address.show",
        "requests",
        "history",
        "send",
    ]
    assert service.calls[2][1] == {"contact": "Alice", "limit": 5}
    assert service.sent() == [
        {"contact": "Alice", "texts": ["welcome", "try /help"], "reply_to": None}
    ]


async def test_without_auto_accept_requests_are_left_alone(cursor: Cursor) -> None:
    bot = Bot("quiet", auto_accept=False)
    service = FakeService([event(1, "request", "Guest7", contact=None, id=None, request=7)])
    await serve(bot, service, cursor)
    assert [method for method, _ in service.calls] == []
    assert cursor.last_seq == 1


async def test_a_new_bot_starts_after_the_last_event_and_a_known_one_resumes(
    tmp_path: Path,
) -> None:
    log = [event(seq, text=f"/echo {seq}") for seq in range(1, 6)]
    fresh = Cursor(tmp_path / "bot.cursor")
    assert fresh.open() is None
    service = FakeService(log, last_event=3)
    await serve(echo_bot(), service, fresh)
    assert service.subscribed_since == 3
    assert [s["texts"] for s in service.sent()] == [["4"], ["5"]]
    fresh.close()

    again = Cursor(tmp_path / "bot.cursor")
    assert again.open() == 5
    log.append(event(6, text="/echo 6"))
    replayed = FakeService(log, last_event=6)
    await serve(echo_bot(), replayed, again)
    assert replayed.subscribed_since == 5
    assert [s["texts"] for s in replayed.sent()] == [["6"]]


async def test_an_event_at_or_below_the_cursor_is_not_handled_twice(cursor: Cursor) -> None:
    cursor.save(2)
    log = [event(3, text="/echo 3"), event(3, text="/echo 3"), event(2, text="/echo 2")]
    service = FakeService([*log, event(4, text="/echo 4")])
    await serve(echo_bot(), service, cursor)
    assert [s["texts"] for s in service.sent()] == [["3"], ["4"]]
    assert cursor.last_seq == 4


async def test_a_failing_handler_is_logged_and_the_bot_goes_on(
    cursor: Cursor, caplog: pytest.LogCaptureFixture
) -> None:
    bot = echo_bot()

    @bot.command("boom")
    async def boom(command: Command) -> None:
        raise RuntimeError("handler bug")

    service = FakeService([event(1, text="/boom"), event(2, text="/echo after")])
    with caplog.at_level(logging.WARNING, logger="veil.bot"):
        await serve(bot, service, cursor)
    assert "event #1: a handler failed" in caplog.text
    assert [s["texts"] for s in service.sent()] == [["after"]]
    assert cursor.last_seq == 2


async def test_a_refused_call_is_logged_and_counts_as_handled(
    cursor: Cursor, caplog: pytest.LogCaptureFixture
) -> None:
    service = FakeService([event(1, text="/echo gone"), event(2, text="/echo again")])
    service.refuse["send"] = 626
    with caplog.at_level(logging.WARNING, logger="veil.bot"):
        await serve(echo_bot(), service, cursor)
    assert caplog.text.count("the service refused a call") == 2
    assert cursor.last_seq == 2


async def test_a_lost_connection_inside_a_handler_leaves_the_event_unhandled(
    cursor: Cursor,
) -> None:
    service = FakeService([event(1, text="/echo a"), event(2, text="/echo b")])
    service.closes_on = "send"
    with pytest.raises(ServiceClosed):
        await echo_bot().serve(service, cursor)
    assert cursor.last_seq == 0  # a new bot on last_event 0; event 1 is redone later


@pytest.mark.parametrize(
    "broken",
    [{"kind": 5}, {"at": "noon"}, {"contact": 3}, {"id": "7"}, {"request": True}],
    ids=["kind", "at", "contact", "id", "request"],
)
async def test_a_malformed_event_is_skipped_and_counted(
    cursor: Cursor, broken: dict[str, Any]
) -> None:
    service = FakeService([event(1, text="/echo a", **broken), event(2, text="/echo b")])
    await serve(echo_bot(), service, cursor)
    assert [s["texts"] for s in service.sent()] == [["b"]]
    assert cursor.last_seq == 2


async def test_a_bot_away_longer_than_the_log_reaches_stops_and_says_so(
    cursor: Cursor,
) -> None:
    cursor.save(3)
    service = FakeService([event(9, text="/echo late")])
    service.pruned_before = 9
    with pytest.raises(CursorTooOld, match=r"after #3, where echo stopped: delete .*bot\.cursor"):
        await echo_bot().serve(service, cursor)
    assert service.sent() == []
    assert cursor.last_seq == 3
    service.pruned_before = 4  # the log still reaches back to the cursor: no error
    await serve(echo_bot(), service, cursor)
    assert [s["texts"] for s in service.sent()] == [["late"]]


def test_a_command_has_one_handler_and_a_one_word_name() -> None:
    bot = echo_bot()

    async def other(command: Command) -> None:
        pass

    with pytest.raises(CommandTaken, match="/echo already has a handler"):
        bot.command("/Echo")(other)
    for bad in ("", "two words", "a/b"):
        with pytest.raises(ValueError, match="not a command name"):
            bot.command(bad)


def test_actions_outside_a_connection_say_the_bot_is_not_connected() -> None:
    with pytest.raises(ServiceClosed, match="not connected"):
        _ = echo_bot().actions


async def test_a_stop_in_the_middle_of_an_event_finishes_it_and_saves_the_cursor(
    cursor: Cursor,
) -> None:
    bot = Bot("slow")
    started, release = asyncio.Event(), asyncio.Event()

    @bot.command("slow")
    async def slow(command: Command) -> None:
        started.set()
        await release.wait()
        await command.reply("done")

    service = FakeService([event(1, text="/slow"), event(2, text="/slow")])
    serving = asyncio.ensure_future(bot.serve(service, cursor))
    await started.wait()
    serving.cancel()  # what SIGTERM does to a running bot
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await serving
    assert [s["texts"] for s in service.sent()] == [["done"]]
    assert cursor.last_seq == 1  # answered and saved: a restarted bot does not repeat it


async def test_group_events_reach_the_handlers_and_replies_go_into_the_group(
    cursor: Cursor,
) -> None:
    bot = echo_bot()
    seen: list[Event] = []
    messages: list[Message] = []

    @bot.on_event("member-joined")
    async def joined(event: Event) -> None:
        seen.append(event)

    @bot.on_message
    async def on_message(message: Message) -> None:
        messages.append(message)
        await message.react("👀")

    in_club: dict[str, Any] = {"group": "club", "contact": None}
    service = FakeService(
        [
            event(1, "member-joined", **in_club, sender="Cy", id=None),
            event(2, text="hello all", **in_club, sender="Bob", id=7),
            event(3, text="/echo in the group", **in_club, sender="Bob", id=8),
        ]
    )
    await serve(bot, service, cursor)
    assert [(e.group, e.sender, e.kind) for e in seen] == [("club", "Cy", "member-joined")]
    assert [(m.group, m.contact, m.text, m.message_id) for m in messages] == [
        ("club", "Bob", "hello all", 7)
    ]
    group_calls = [(m, p) for m, p in service.calls if m.startswith("group.")]
    assert group_calls == [
        ("group.react", {"group": "club", "seq": 7, "emoji": "👀", "remove": False}),
        ("group.send", {"group": "club", "texts": ["in the group"], "reply_to": 8}),
    ]
    assert not [m for m, _ in service.calls if m in ("send", "react")]
