"""The ``veil`` command: a private messenger with no user identifiers.

This module holds the command group and profile set-up; the commands that talk
to relays live in :mod:`veil.cli.contact_commands` and
:mod:`veil.cli.message_commands`, the shared options and output in
:mod:`veil.cli.support`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from veil.chat.app import STORE_FILE, Messenger
from veil.chat.routing import initial_policy, load_policy, policy_file
from veil.cli.backup_commands import BACKUP_COMMANDS
from veil.cli.contact_commands import CONTACT_COMMANDS
from veil.cli.file_commands import FILE_COMMANDS
from veil.cli.group_commands import GROUP_COMMANDS
from veil.cli.message_commands import MESSAGE_COMMANDS
from veil.cli.serve_commands import SERVE_COMMANDS
from veil.cli.support import (
    FAST_KDF,
    Output,
    common_options,
    home_option,
    passphrase,
    run_command,
)
from veil.cli.tui_command import TUI_COMMANDS
from veil.cli.web_command import WEB_COMMANDS
from veil.routing.cli import routing_commands
from veil.routing.config_file import PolicyStore
from veil.routing.policy import SocksSettings

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="veil", message="veil %(version)s")
def main() -> None:
    """Veil: talk privately, with no phone number, username or address.

    \b
    First time:    veil init --name Alice --relay veil://FINGERPRINT@relay.example
    Invite:        veil invite            (send the link to your friend)
    Join:          veil connect LINK      (your friend runs this)
    Talk:          veil send Bob "hi"  ·  veil receive  ·  veil chat Bob
    Check keys:    veil verify Bob --code "12345 67890 ..."
    Routing:       veil relays list  ·  veil relays mode always  ·  veil operators
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
@click.option(
    "--socks",
    metavar="HOST:PORT",
    help="Connect to every relay through this SOCKS5 proxy (Tor: 127.0.0.1:9050).",
)
@click.option("--fast-kdf", is_flag=True, hidden=True, help="Weak passphrase hashing (tests).")
def init(  # click passes every option by name
    *,
    home: Path,
    as_json: bool,
    name: str,
    relays: tuple[str, ...],
    socks: str | None,
    fast_kdf: bool,
) -> None:
    """Create your profile and choose the relays you receive on (your own relays)."""
    if not relays:
        Output(as_json).fail(
            ValueError(
                "choose at least one relay: --relay veil://FINGERPRINT@HOST "
                "(`veil-relay address --data DIR` prints a relay's address)"
            )
        )

    async def run(output: Output) -> None:
        socks_settings = None if socks is None else SocksSettings.parse(socks)
        policy = initial_policy(relays, socks_settings)
        secret = passphrase(confirm=True)
        store = Messenger.create(
            home, secret, name, list(relays), kdf=FAST_KDF if fast_kdf else None
        )
        store.close()
        policy_file(home).save(policy)
        output.emit(
            {"home": str(home), "name": name, "relays": list(relays), "socks": socks},
            f"Created profile {name!r} in {home}.\nNext: `veil invite` or `veil connect LINK`.",
        )

    run_command(as_json, run)


def _open_policy(options: Mapping[str, Any]) -> PolicyStore:
    """The profile's policy file; a profile made before it existed gets it seeded first."""
    home: Path = options["home"]
    file = policy_file(home)
    if not file.path.exists() and (home / STORE_FILE).exists():
        store = Messenger.open_store(home, passphrase())
        try:
            with store.transaction() as tx:
                load_policy(home, tx.relays.list())
        finally:
            store.close()
    return file


for _command in (
    *CONTACT_COMMANDS,
    *MESSAGE_COMMANDS,
    *FILE_COMMANDS,
    *SERVE_COMMANDS,
    *WEB_COMMANDS,
    *TUI_COMMANDS,
    *GROUP_COMMANDS,
    *routing_commands(_open_policy, [home_option()]),
    *BACKUP_COMMANDS,
):
    main.add_command(_command)
