"""``veil tui``: the terminal interface for this profile.

It talks to the profile's ``veil serve``; when none runs it asks for the passphrase
(inside the TUI, or from ``VEIL_PASSPHRASE``), starts one, and stops it on exit.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import click

from veil.cli.support import PASSPHRASE_ENV, Output, common_options
from veil.service.launcher import connect_or_start
from veil.tui.app import ApiClient, VeilApp

__all__ = ["TUI_COMMANDS"]


@click.command()
@common_options
def tui(*, home: Path, as_json: bool) -> None:
    """Chat in a terminal window: chats, conversation, invitations, security codes.

    \b
    F1 lists every key. Ctrl+N invites, Ctrl+O connects with a link, Ctrl+K shows
    the security code of the open chat, Ctrl+Q quits."""
    started: list[asyncio.subprocess.Process] = []

    async def connect(passphrase: str | None) -> ApiClient:
        client, process = await connect_or_start(home, passphrase or os.environ.get(PASSPHRASE_ENV))
        if process is not None:
            started.append(process)
        return client

    VeilApp(connect).run()
    for process in started:  # the service this TUI started stops with it
        os.kill(process.pid, signal.SIGTERM)
    Output(as_json).emit(
        {"home": str(home), "stopped_service": bool(started)},
        "Stopped the service this TUI started." if started else "",
    )


TUI_COMMANDS = (tui,)
