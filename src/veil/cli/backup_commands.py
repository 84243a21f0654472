"""``veil backup`` and ``veil restore``: the whole profile in one encrypted file.

The backup passphrase comes from ``VEIL_BACKUP_PASSPHRASE`` or a prompt; it is not
the profile's passphrase (a backup usually travels further than the device).
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from veil.chat.app import STORE_FILE, Messenger
from veil.chat.backup import read_backup, restore_into, resume_connections, write_backup
from veil.cli.sessions import without_service
from veil.cli.support import (
    FAST_KDF,
    Output,
    common_options,
    local_messenger_of,
    passphrase,
    run_command,
)
from veil.crypto import SystemRandom

__all__ = ["BACKUP_COMMANDS", "BACKUP_PASSPHRASE_ENV"]

BACKUP_PASSPHRASE_ENV = "VEIL_BACKUP_PASSPHRASE"  # noqa: S105 (a variable's name)


def _backup_passphrase(*, confirm: bool) -> str:
    return passphrase(confirm=confirm, env=BACKUP_PASSPHRASE_ENV, label="Backup passphrase")


@click.command()
@common_options
@click.option("--to", "target", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--fast-kdf", is_flag=True, hidden=True, help="Weak passphrase hashing (tests).")
def backup(*, home: Path, as_json: bool, target: Path, fast_kdf: bool) -> None:
    """Write your whole profile (keys, contacts, history, settings) to one file,
    encrypted with a backup passphrase."""

    async def run(output: Output) -> None:
        with without_service(home):  # a service would change the store mid-backup
            store = Messenger.open_store(home, passphrase())
            try:
                secret = _backup_passphrase(confirm=True)
                size = write_backup(
                    store,
                    secret,
                    target,
                    rng=SystemRandom(),
                    now=time.time(),
                    kdf=FAST_KDF if fast_kdf else None,
                )
            finally:
                store.close()
        output.emit(
            {"backup": str(target), "bytes": size},
            f"Backed up to {target} ({size} bytes). Keep the backup passphrase safe: "
            "without it nobody, you included, can read the file.",
        )

    run_command(as_json, run)


@click.command()
@common_options
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--fast-kdf", is_flag=True, hidden=True, help="Weak passphrase hashing (tests).")
def restore(*, home: Path, as_json: bool, source: Path, fast_kdf: bool) -> None:
    """Rebuild your profile from a backup into --home (a new, empty folder); every
    conversation then re-keys with your contacts by itself."""

    async def run(output: Output) -> None:
        saved = read_backup(source, _backup_passphrase(confirm=False))
        store = restore_into(
            saved, home, passphrase(confirm=True), STORE_FILE, kdf=FAST_KDF if fast_kdf else None
        )
        store.close()
        async with local_messenger_of(home) as messenger:
            offers = await resume_connections(messenger)
            contacts = len(messenger.contacts())
        output.emit(
            {
                "home": str(home),
                "contacts": contacts,
                "repairs": offers,
                "backup_created_at": saved.created_at,
            },
            f"Restored {contacts} contacts into {home}. {offers} connections are re-keying "
            "with your contacts; `veil receive` completes it once they are online.",
        )

    run_command(as_json, run)


BACKUP_COMMANDS = [backup, restore]
