"""``veil web``: open the local web app for this profile.

It talks to the profile's ``veil serve`` (and starts one, asking for the passphrase,
when none runs), serves the web app on 127.0.0.1 and prints a one-time link to open
in a browser on this machine. Ctrl-C stops it, and the service it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import webbrowser
from pathlib import Path

import click

from veil.cli.support import Output, common_options, passphrase, run_command
from veil.service.errors import ServiceNotRunning
from veil.service.launcher import connect_or_start
from veil.web.gateway import WebGateway

__all__ = ["WEB_COMMANDS"]


@click.command()
@common_options
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, help="Port on 127.0.0.1 (0: any)."
)
@click.option("--open/--no-open", "open_browser", default=False, help="Open the link in a browser.")
def web(*, home: Path, as_json: bool, port: int, open_browser: bool) -> None:
    """Serve the web app on 127.0.0.1 and print a one-time link to sign in.

    \b
    The link works once; run `veil web` again (or restart it) for a new one.
    Only this machine can reach the app, and only with the link's session."""

    async def run(output: Output) -> None:
        try:
            client, started = await connect_or_start(home, None)
        except ServiceNotRunning:
            client, started = await connect_or_start(home, passphrase())
        await client.close()  # each browser tab gets its own connection
        gateway = WebGateway(home)
        await gateway.start(port)
        link = gateway.new_link()
        output.emit(
            {"url": link, "origin": gateway.origin, "started_service": started is not None},
            f"Open this link in a browser on this machine (it works once):\n  {link}\n"
            "Ctrl-C stops the web app.",
        )
        if open_browser:
            webbrowser.open(link)
        try:
            await _until_stopped()
        finally:
            await gateway.close()
            if started is not None:
                started.terminate()
                await started.wait()

    run_command(as_json, run)


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    try:
        await stop.wait()
    finally:
        for number in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(number)


WEB_COMMANDS = (web,)
