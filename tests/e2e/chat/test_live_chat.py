"""``veil chat``: incoming messages show up live, typed lines are sent."""

from __future__ import annotations

import asyncio
import os
import pty
import signal

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


async def _read_terminal(master: int, needle: bytes) -> bytes:
    seen = b""
    async with asyncio.timeout(COMMAND_TIMEOUT):
        while needle not in seen:
            seen += await asyncio.to_thread(os.read, master, 4096)
    return seen


async def test_on_a_terminal_arrow_keys_are_edited_and_ctrl_c_ends_the_chat_at_once(
    pair: tuple[VeilUser, VeilUser],
) -> None:
    alice, bob = pair
    master, follower = pty.openpty()
    chat = await asyncio.create_subprocess_exec(
        VEIL,
        "chat",
        "Bob",
        "--home",
        str(alice.home),
        env=alice.env,
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    try:
        await _read_terminal(master, b"Chatting with Bob")
        os.write(master, b"hello\x1b[D\x1b[D\x1b[C there\r")  # arrow keys, then Enter
        await _read_terminal(master, b"you: hel")
        os.write(master, b"half a line")
        chat.send_signal(signal.SIGINT)  # what the terminal sends on Ctrl-C; no Enter
        assert await asyncio.wait_for(chat.wait(), COMMAND_TIMEOUT) == 0
    finally:
        os.close(master)
    (message,) = [e for e in await bob.receive() if e["kind"] == "message"]
    assert "\x1b" not in message["text"] and message["text"].startswith("hel")
