"""What ``veil chat`` makes of a typed line, and the terminal it reads and prints on.

:func:`parse_line` is pure: a slash command, a message, or nothing. Typed control
characters (an arrow key's escape sequence that a terminal without line editing
passes through) are removed rather than sent or refused. :class:`Terminal` reads
lines in a daemon thread with ``readline`` line editing when standard input is a
terminal (so Ctrl-C ends the chat at once, without an Enter), and prints arrivals
above the line being typed instead of through it.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import re
import sys
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType

__all__ = ["COMMANDS", "Command", "Message", "Terminal", "parse_line"]

COMMANDS = {
    "/help": "show this help",
    "/history": "show the last messages again",
    "/quit": "leave the chat (Ctrl-D and Ctrl-C too)",
}
#: ANSI escape sequences (CSI and two-character escapes) a terminal may pass through.
_READ_SIZE = 4096
_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")


@dataclass(frozen=True, slots=True)
class Command:
    """A slash command; ``known`` is false for a mistyped one (never sent)."""

    name: str
    known: bool


@dataclass(frozen=True, slots=True)
class Message:
    """Text to send."""

    text: str


def parse_line(line: str) -> Command | Message | None:
    """Interpret one typed line; ``None`` for a blank one. ``//text`` sends ``/text``."""
    without_escapes = _ESCAPE.sub("", line.rstrip("\r\n"))
    text = "".join(
        ch for ch in without_escapes if ch == "\t" or unicodedata.category(ch) != "Cc"
    ).strip()
    if not text:
        return None
    if text.startswith("//"):
        return Message(text[1:])
    if text.startswith("/"):
        name = text.split()[0].lower()
        return Command(name, name in COMMANDS)
    return Message(text)


def _piped_lines() -> Iterator[str | None]:
    """Lines from a pipe or file on standard input, read from the descriptor itself:
    a daemon thread blocked in ``sys.stdin``'s buffer would hold its lock while the
    interpreter shuts down, which aborts the process. ``None`` at the end."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    while chunk := os.read(sys.stdin.fileno(), _READ_SIZE):
        pending += decoder.decode(chunk)
        *complete, pending = pending.split("\n")
        yield from complete
    if pending:
        yield pending
    yield None


def _line_editing() -> ModuleType | None:
    """``readline`` (arrow keys, history) when talking to a terminal, else ``None``."""
    if not sys.stdin.isatty():
        return None
    try:
        import readline  # noqa: PLC0415 (loading it switches input() to line editing)
    except ImportError:
        return None
    return readline


class Terminal:
    """Lines typed by the user as an asyncio queue, and printing that keeps them intact."""

    PROMPT = "> "

    def __init__(self) -> None:
        self._readline = _line_editing()
        self._prompt = self.PROMPT if self._readline is not None else ""
        self.lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._reading = False

    def start(self) -> None:
        """Start reading standard input in a daemon thread (it never blocks the exit)."""
        loop = asyncio.get_running_loop()
        lines = self._typed_lines if self._readline is not None else _piped_lines

        def read() -> None:
            for line in lines():
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    loop.call_soon_threadsafe(self.lines.put_nowait, line)
                if line is None:
                    return

        threading.Thread(target=read, name="veil-chat-input", daemon=True).start()
        self._reading = True

    def _typed_lines(self) -> Iterator[str | None]:
        """Lines from the terminal with line editing (``input`` then uses readline,
        not ``sys.stdin``'s buffer); ``None`` at the end."""
        while True:
            try:
                yield input(self._prompt)
            except (EOFError, OSError, ValueError):
                yield None
                return

    def show(self, text: str) -> None:
        """Print a line above the one being typed, then redraw what was typed."""
        if self._readline is None:
            print(text, flush=True)
            return
        typed = self._readline.get_line_buffer()
        redraw = f"{self._prompt}{typed}" if self._reading else ""  # input() draws the first
        sys.stdout.write(f"\r\x1b[K{text}\n{redraw}")
        sys.stdout.flush()
