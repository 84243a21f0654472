"""The ``veil`` command: a private messenger with no user identifiers.

This module holds the command group and profile set-up; the commands that talk
to relays live in :mod:`veil.chat.commands`, the shared options and output in
:mod:`veil.chat.cli_support`.
"""

from __future__ import annotations

from pathlib import Path

import click

from veil.chat.app import Messenger
from veil.chat.cli_support import FAST_KDF, Output, common_options, passphrase, run_command
from veil.chat.commands import ALL_COMMANDS

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Veil: talk privately, with no phone number, username or address.

    \b
    First time:    veil init --name Alice --relay veil://FINGERPRINT@relay.example
    Invite:        veil invite            (send the link to your friend)
    Join:          veil connect LINK      (your friend runs this)
    Talk:          veil send Bob "hi"  ·  veil receive  ·  veil chat Bob
    Check keys:    veil verify Bob --code "12345 67890 ..."
    """


@main.command()
@common_options
@click.option("--name", required=True, help="Your display name, shown only to your contacts.")
@click.option(
    "--relay",
    "relays",
    multiple=True,
    metavar="ADDRESS",
    help="Relay for your receive queues (veil://...); repeat for several.",
)
@click.option("--fast-kdf", is_flag=True, hidden=True, help="Weak passphrase hashing (tests).")
def init(home: Path, as_json: bool, name: str, relays: tuple[str, ...], fast_kdf: bool) -> None:
    """Create your profile and choose the relays you receive on."""
    if not relays:
        Output(as_json).fail(
            ValueError(
                "choose at least one relay: --relay veil://FINGERPRINT@HOST "
                "(`veil-relay address --data DIR` prints a relay's address)"
            )
        )

    async def run(output: Output) -> None:
        secret = passphrase(confirm=True)
        store = Messenger.create(
            home, secret, name, list(relays), kdf=FAST_KDF if fast_kdf else None
        )
        store.close()
        output.emit(
            {"home": str(home), "name": name, "relays": list(relays)},
            f"Created profile {name!r} in {home}.\nNext: `veil invite` or `veil connect LINK`.",
        )

    run_command(as_json, run)


for _command in ALL_COMMANDS:
    main.add_command(_command)
