"""Running a :class:`~veil.bot.bot.Bot` as a process: connect, serve, reconnect.

:func:`run_bot` connects to the profile's ``veil serve`` (its Unix socket) or to a
WebSocket URL with a token, and re-connects with a growing pause when the service
goes away, resuming from the cursor. :func:`main` is the command line of every bot
script (``bot.main()``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from veil.bot.actions import ApiClient
from veil.bot.bot import LOG, Bot
from veil.bot.cursor import Cursor
from veil.bot.errors import BotLocalError, NoServiceGiven
from veil.service.client import ServiceClient
from veil.service.errors import ServiceClosed, ServiceNotRunning

__all__ = ["MAX_PAUSE", "ServiceAddress", "main", "run_bot"]

#: The longest pause between two attempts to reach the service, in seconds.
MAX_PAUSE = 10.0
FIRST_PAUSE = 0.2


class ServiceAddress:
    """Where the service is: a profile folder, or a WebSocket URL and a token."""

    def __init__(
        self, home: Path | None = None, *, url: str | None = None, token: str | None = None
    ) -> None:
        if home is None and (url is None or token is None):
            raise NoServiceGiven("give the bot a profile folder, or a WebSocket URL and a token")
        self.home, self.url, self.token = home, url, token

    async def connect(self) -> ApiClient:
        """One authenticated API connection."""
        return await ServiceClient.connect(self.home, url=self.url, token=self.token)

    def default_cursor(self, bot_name: str) -> Path:
        """The cursor file in the profile folder; a WebSocket bot must name its own."""
        if self.home is None:
            raise NoServiceGiven("a bot on a WebSocket needs a cursor file: give --cursor")
        return self.home / f"bot-{bot_name}.cursor"


async def run_bot(
    bot: Bot, service: ServiceAddress, cursor_path: Path | None = None, *, reconnect: bool = True
) -> None:
    """Serve ``bot`` until cancelled; with ``reconnect``, survive the service's restarts."""
    cursor = Cursor(cursor_path or service.default_cursor(bot.name))
    cursor.open()
    pause = FIRST_PAUSE
    try:
        while True:
            try:
                client = await service.connect()
                pause = FIRST_PAUSE
                try:
                    await bot.serve(client, cursor)
                finally:
                    await client.close()
            except (ServiceNotRunning, ServiceClosed) as exc:
                if not reconnect:
                    raise
                LOG.warning("%s; trying again in %.1f s", exc, pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE)
    finally:
        cursor.close()


def main(bot: Bot, argv: Sequence[str] | None = None) -> None:
    """Parse the bot's command line (``--home`` or ``--url`` with ``--token-file``)
    and run it until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(prog=bot.name, description=f"the {bot.name} Veil bot")
    parser.add_argument("--home", type=Path, help="profile folder of a running `veil serve`")
    parser.add_argument("--url", help="WebSocket URL of a `veil serve --listen`")
    parser.add_argument("--token-file", type=Path, help="the service.token for --url")
    parser.add_argument("--cursor", type=Path, help="file keeping the last handled event")
    parser.add_argument("--quiet", action="store_true", help="log warnings only")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    token = args.token_file.read_text().strip() if args.token_file else None
    try:
        service = ServiceAddress(args.home, url=args.url, token=token)
        cursor = args.cursor or service.default_cursor(bot.name)
    except NoServiceGiven as exc:
        parser.error(str(exc))
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_until_signalled(run_bot(bot, service, cursor)))
    except BotLocalError as exc:  # what the person running the bot must fix
        parser.exit(1, f"{bot.name}: {exc} (error {exc.code})\n")


async def _until_signalled(work: Coroutine[Any, Any, None]) -> None:
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
