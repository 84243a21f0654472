"""Shared pieces of the ``veil`` CLI: options, passphrase, output and error handling.

Every command takes ``--home DIR`` (default: the platform's data directory) and
``--json`` (one JSON object on stdout, for scripts and bots). The passphrase that
unlocks the profile comes from ``VEIL_PASSPHRASE`` or, failing that, a prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click
import platformdirs

from veil.chat.app import Messenger
from veil.chat.routing import load_policy
from veil.chat.store import KdfParams
from veil.cli.sessions import open_session, without_service
from veil.errors import VeilError
from veil.service.errors import RemoteError

__all__ = [
    "FAST_KDF",
    "PASSPHRASE_ENV",
    "Output",
    "common_options",
    "home_option",
    "open_messenger",
    "passphrase",
    "run_command",
    "with_session",
]

PASSPHRASE_ENV = "VEIL_PASSPHRASE"  # noqa: S105 (the name of a variable, not a secret)
_T = TypeVar("_T")
_INTERRUPTED = 130  # the shell's status for a command ended by Ctrl-C
#: Argon2id for tests and demos only (``veil init --fast-kdf``): milliseconds, not seconds.
FAST_KDF = KdfParams(iterations=1, lanes=1, memory_kib=1024)


class Output:
    """Prints results as text for people or as one JSON object for scripts."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def emit(self, data: dict[str, Any], text: str) -> None:
        """Print ``data`` as JSON, or ``text`` for a person."""
        if self.as_json:
            click.echo(json.dumps(data, ensure_ascii=False))
        elif text:
            click.echo(text)

    def fail(self, error: Exception) -> None:
        """Report an error the user can act on, then exit with status 1. An error the
        service answered is reported with the service's code and name."""
        code, kind = getattr(error, "code", 1), type(error).__name__
        if isinstance(error, RemoteError):
            code, kind = error.remote_code, error.kind
        if self.as_json:
            click.echo(json.dumps({"error": str(error), "code": code, "kind": kind}))
        else:
            click.echo(f"error: {error}", err=True)
        sys.exit(1)


def _default_home() -> Path:
    return Path(platformdirs.user_data_dir("veil", appauthor=False))


def _home_settings() -> dict[str, Any]:
    return {
        "type": click.Path(file_okay=False, path_type=Path),
        "default": _default_home,
        "show_default": "the platform data directory",
        "help": "Directory holding this profile's encrypted store.",
    }


def home_option() -> click.Option:
    """The ``--home DIR`` option as an object, for command groups built elsewhere."""
    return click.Option(["--home"], **_home_settings())


def common_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add ``--home`` and ``--json`` to a command."""
    command = click.option(
        "--json", "as_json", is_flag=True, help="Print one JSON object (for scripts and bots)."
    )(command)
    return click.option("--home", **_home_settings())(command)


def passphrase(
    *, confirm: bool = False, env: str = PASSPHRASE_ENV, label: str = "Passphrase"
) -> str:
    """The passphrase from the environment variable ``env``, or asked for without echo.

    Without a terminal (a script, a pipe) it is read as one line from standard input,
    never through ``getpass`` (which would warn that it cannot hide the input); an
    empty one is refused with what to do instead."""
    from_env = os.environ.get(env)
    if from_env:
        return from_env
    if not sys.stdin.isatty():
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise ValueError(f"no {label.lower()} given: set {env} or run this in a terminal")
        return value
    typed: str = click.prompt(label, hide_input=True, confirmation_prompt=confirm)
    return typed


async def open_messenger(home: Path, secret: str | None = None) -> Messenger:
    """Open the profile in ``home`` with its routing policy; without ``secret``, the
    passphrase comes from :func:`passphrase`."""
    store = Messenger.open_store(home, passphrase() if secret is None else secret)
    try:
        with store.transaction() as tx:
            stored_relays = tx.relays.list()
        return Messenger(store, policy=load_policy(home, stored_relays))
    except BaseException:
        store.close()
        raise


def run_command(as_json: bool, body: Callable[[Output], Coroutine[Any, Any, _T]]) -> _T | None:
    """Run an async command body; turn Veil errors into a clear message and status 1."""
    output = Output(as_json)
    try:
        return asyncio.run(body(output))
    except (VeilError, ValueError) as error:
        output.fail(error)
    except OSError as error:  # a folder that cannot be made, a full disk: no traceback
        where = f" ({error.filename})" if error.filename else ""
        output.fail(OSError(f"{error.strerror or error}{where}: check the path and permissions"))
    except KeyboardInterrupt:
        sys.exit(_INTERRUPTED)
    return None


def with_session(
    body: Callable[..., Coroutine[Any, Any, None]],
) -> Callable[..., None]:
    """Wrap a command body: reach the profile (its service, or the store), run, close."""

    @functools.wraps(body)
    def command(home: Path, as_json: bool, **kwargs: Any) -> None:
        async def run(output: Output) -> None:
            async with open_session(home, open_messenger) as session:
                await body(session, output, **kwargs)

        run_command(as_json, run)

    return command


@contextlib.asynccontextmanager
async def local_messenger_of(home: Path) -> AsyncIterator[Messenger]:
    """The store opened in-process for a command with no API method (restore), with no
    ``veil serve`` beside it (stop it first)."""
    with without_service(home):
        messenger = await open_messenger(home)
        try:
            yield messenger
        finally:
            await messenger.close()
