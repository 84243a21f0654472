"""``veil chat``: incoming messages show up live, typed lines are sent."""

from __future__ import annotations

import asyncio

from helpers.veil_cli import COMMAND_TIMEOUT, VEIL, VeilUser


async def _read_until(stream: asyncio.StreamReader, needle: str) -> list[str]:
    lines: list[str] = []
    while True:
        line = (await asyncio.wait_for(stream.readline(), COMMAND_TIMEOUT)).decode()
        assert line, f"chat ended before printing {needle!r}: {lines}"
        lines.append(line)
        if needle in line:
            return lines


async def test_live_chat_shows_arrivals_and_sends_typed_lines(
    pair: tuple[VeilUser, VeilUser],
) -> None:
    alice, bob = pair
    chat = await asyncio.create_subprocess_exec(
        VEIL,
        "chat",
        "Bob",
        "--home",
        str(alice.home),
        env=alice.env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert chat.stdin is not None and chat.stdout is not None
    await _read_until(chat.stdout, "Chatting with Bob")
    await bob.run("send", "Alice", "are you there?")
    await _read_until(chat.stdout, "Bob: are you there?")
    chat.stdin.write(b"yes, live\n/quit\n")
    await chat.stdin.drain()
    assert await asyncio.wait_for(chat.wait(), COMMAND_TIMEOUT) == 0
    assert [e["text"] for e in await bob.receive()] == ["yes, live"]
