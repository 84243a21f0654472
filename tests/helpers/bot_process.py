"""An example bot from ``examples/`` as a real subprocess, the world it runs in (a
user and the bot's profile, each with its ``veil serve``), and the user's side of
talking to it, for the end-to-end bot tests."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

from helpers.relay_process import RelayProcess
from helpers.veil_cli import VeilUser
from helpers.veil_service import ServiceProcess
from veil.service import api_types as t
from veil.service.client import ServiceClient

__all__ = [
    "EXAMPLES",
    "BotProcess",
    "BotWorld",
    "ask",
    "bot_address",
    "connect_to_bot",
    "next_event",
]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: Generous: a busy 2-core machine may take a while to start Python and connect.
WAIT = 120.0


class BotProcess:
    """``python examples/NAME.py ARGS`` for the bot profile ``user`` (``ARGS`` by
    default ``--home`` and its folder); its log goes next to the profile."""

    def __init__(self, example: str, user: VeilUser, *args: str) -> None:
        self.script = EXAMPLES / f"{example}.py"
        self.user = user
        self.args = args or ("--home", str(user.home))
        self.process: asyncio.subprocess.Process | None = None
        self.log_file = user.home.parent / f"{user.home.name}-{example}.log"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self) -> None:
        """Start the bot (its service must be running)."""
        with self.log_file.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                str(self.script),
                *self.args,
                env=self.user.env,
                stdout=log,
                stderr=log,
            )

    async def stop(self) -> int:
        """SIGTERM and wait; the bot's exit code (0: it stopped cleanly)."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), WAIT)

    async def kill(self) -> None:
        """SIGKILL, if it still runs."""
        if self.process is not None and self.process.returncode is None:
            os.kill(self.process.pid, signal.SIGKILL)
            await self.process.wait()


async def bot_address(bot_home: Path) -> str:
    """The bot profile's contact address, once the bot has made it."""
    async with await ServiceClient.connect(bot_home) as client:
        for _ in range(int(WAIT * 10)):
            shown = cast(t.AddressResult, await client.call("address.show"))
            if shown["link"] is not None:
                return shown["link"]
            await asyncio.sleep(0.1)
    raise AssertionError("the bot made no contact address")


async def connect_to_bot(
    client: ServiceClient, bot_home: Path, events: AsyncIterator[t.EventShape]
) -> str:
    """Connect the user of ``client`` to the bot through its address; wait until the
    bot accepted; return the bot's alias."""
    link = await bot_address(bot_home)
    await client.call("connect", {"link": link})
    connected = await next_event(events, "connected")  # the alias, now the bot's name
    assert connected["contact"] is not None
    return connected["contact"]


async def next_event(events: AsyncIterator[t.EventShape], kind: str) -> t.EventShape:
    """The next event of ``kind`` (others are skipped)."""
    while True:
        event = await asyncio.wait_for(anext(events), WAIT)
        if event["kind"] == kind:
            return event


async def ask(
    client: ServiceClient, events: AsyncIterator[t.EventShape], bot: str, text: str
) -> t.EventShape:
    """Send ``text`` to the bot; its answer (the next message event)."""
    await client.call("send", {"contact": bot, "texts": [text]})
    return await next_event(events, "message")


class BotWorld:
    """Alice and a bot's profile on one relay, each with its ``veil serve``, and the
    example bot ``example`` running on its profile."""

    def __init__(
        self, tmp_path: Path, example: str = "echo_bot", *extra: str, serve: tuple[str, ...] = ()
    ) -> None:
        self.alice = VeilUser(tmp_path / "alice", "Alice")
        self.bot_user = VeilUser(tmp_path / "bot", "Bot")
        self.services = [ServiceProcess(self.alice), ServiceProcess(self.bot_user, *serve)]
        home = ("--home", str(self.bot_user.home))
        self.bot = BotProcess(example, self.bot_user, *home, *extra)

    async def start(self, relay: RelayProcess) -> None:
        await self.start_services(relay)
        await self.bot.start()

    async def start_services(self, relay: RelayProcess) -> None:
        for user in (self.alice, self.bot_user):
            await user.init(relay)
        for service in self.services:
            await service.start()

    async def stop(self) -> None:
        await self.bot.kill()
        for service in self.services:
            await service.kill()
