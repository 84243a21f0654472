"""``veil serve``: run this profile as a service with a local JSON-RPC API.

The store is unlocked once (the passphrase from ``--passphrase-fd``,
``VEIL_PASSPHRASE`` or a prompt); the service then receives continuously and
answers API clients on ``service.sock`` in the profile folder, and on a WebSocket
with ``--listen``. While it runs, the other ``veil`` commands go through it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from veil.cli.support import Output, common_options, open_messenger, passphrase, run_command
from veil.service.profile_files import TOKEN_FILE, hold_lock
from veil.service.server import Service, parse_listen

__all__ = ["SERVE_COMMANDS"]


def _read_passphrase(descriptor: int | None) -> str:
    """The passphrase: the first line of ``descriptor`` if given, else as usual."""
    if descriptor is None:
        return passphrase()
    with os.fdopen(descriptor, encoding="utf-8", closefd=True) as source:
        line = source.readline().rstrip("\n")
    if not line:
        raise ValueError(f"--passphrase-fd {descriptor} gave no passphrase")
    return line


@click.command()
@common_options
@click.option(
    "--listen",
    metavar="HOST:PORT",
    help="Also serve the API on a WebSocket here (127.0.0.1 unless --allow-remote).",
)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Let --listen use an address other machines can reach (think twice).",
)
@click.option(
    "--passphrase-fd", type=int, metavar="N", help="Read the passphrase from file descriptor N."
)
def serve(
    *, home: Path, as_json: bool, listen: str | None, allow_remote: bool, passphrase_fd: int | None
) -> None:
    """Run this profile as a service: receive all the time, answer the local API.

    Clients authenticate with the token in service.token (mode 0600) in the profile
    folder. SIGTERM stops the service cleanly."""

    async def run(output: Output) -> None:
        where = None if listen is None else parse_listen(listen, allow_remote=allow_remote)
        if where is not None and where.remote:
            click.echo(
                f"WARNING: the API listens on {where.host}, reachable from other machines; "
                "anyone with the token controls this profile.",
                err=True,
            )
        secret = _read_passphrase(passphrase_fd)
        with hold_lock(home):
            messenger = await open_messenger(home, secret)
            try:
                service = Service(home, messenger)

                def ready(info: dict[str, object]) -> None:
                    info["token_file"] = str(home / TOKEN_FILE)
                    if output.as_json:
                        click.echo(json.dumps(info), nl=True)
                    else:
                        click.echo(f"Serving {home} on {info['socket']}; SIGTERM stops.")

                await service.run(where, ready)
            finally:
                await messenger.close()

    run_command(as_json, run)


SERVE_COMMANDS = [serve]
