"""``veil-relay``: set up and run a Veil relay from the command line.

Three commands, each accepting ``--json`` for scripts: ``init`` makes a data
directory, ``start`` runs the relay in the foreground, ``address`` prints the
address to share. The work is done elsewhere (:mod:`veil.relay.server.config`,
:mod:`veil.relay.transport.identity`, :mod:`veil.relayd.runner`); this module only talks to
the operator.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from veil.crypto import SystemRandom
from veil.errors import VeilError
from veil.relay.protocol.address import DEFAULT_PORT, normalise_host
from veil.relay.protocol.errors import InvalidAddress, InvalidRelayConfig
from veil.relay.server.config import STORE_ENGINES, RelayConfig, create_data_dir
from veil.relay.server.settings import RelaySettings
from veil.relay.transport.identity import RelayIdentity
from veil.relayd.runner import RunningRelay, run_relay
from veil.routing.destination_guard import DestinationGuard

__all__ = ["main"]

_DATA_HELP = "Data directory holding the relay's keys, config.toml and queue store."
_JSON_HELP = "Print one JSON object instead of text (for scripts)."
_PRIVATE_UMASK = 0o077
_LOCAL_ONLY_HINT = (
    "Note: no --host given, so the address names 127.0.0.1 and works on this machine\n"
    "only. Set the public names in config.toml ([address] hosts) before sharing it.\n"
)


def _emit(as_json: bool, payload: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(payload) if as_json else text)


def _fail(as_json: bool, message: str) -> NoReturn:
    if as_json:
        click.echo(json.dumps({"error": message}))
    else:
        click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _load(data_dir: Path, as_json: bool) -> tuple[RelayConfig, RelayIdentity]:
    try:
        return RelayConfig.load(data_dir), RelayIdentity.load(data_dir)
    except (InvalidRelayConfig, OSError, ValueError) as exc:
        _fail(as_json, str(exc))


data_option = click.option(
    "--data",
    "data_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help=_DATA_HELP,
)
json_option = click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Run a Veil relay: one-way message queues over TLS, in fixed 16 KiB blocks.

    \b
    First time:   veil-relay init --data /var/lib/veil-relay --host relay.example.com
    Then:         veil-relay start --data /var/lib/veil-relay
    Share:        veil-relay address --data /var/lib/veil-relay

    The relay never learns who talks to whom: it stores sealed messages in queues
    known only by random ids. See docs/operators.md for running it in production.
    """


@main.command(short_help="Create a relay: identity key, TLS certificate, config.toml.")
@data_option
@click.option(
    "--host",
    "hosts",
    multiple=True,
    metavar="NAME",
    help="Host name or IP clients use to reach the relay; repeat for several "
    "(e.g. a clearnet name and an .onion name). Default: 127.0.0.1 (local tests only).",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="TCP port to listen on; it is part of the address.",
)
@click.option(
    "--password",
    default=None,
    help="Make a private relay: creating queues requires this password (sending does not).",
)
@click.option(
    "--no-proxy",
    is_flag=True,
    help="Do not act as a private-routing proxy for clients (config: [routing] proxy).",
)
@click.option(
    "--proxy-allow",
    "proxy_allow",
    multiple=True,
    metavar="NETWORK",
    help="A private or loopback network (CIDR) the proxy may connect to; repeat for "
    "several. Default: public addresses only (config: [routing] proxy_allow).",
)
@click.option(
    "--store",
    type=click.Choice(STORE_ENGINES),
    default=STORE_ENGINES[0],
    show_default=True,
    help="Queue store: an append-only checksummed journal, or SQLite (config: store).",
)
@json_option
def init(  # noqa: PLR0917 - click passes every option by position
    data_dir: Path,
    hosts: tuple[str, ...],
    port: int,
    password: str | None,
    no_proxy: bool,
    proxy_allow: tuple[str, ...],
    store: str,
    as_json: bool,
) -> None:
    """Create a relay in DATA: identity key, TLS certificate and config.toml.

    Prints the relay address (veil://FINGERPRINT@HOSTS[:PORT]). The fingerprint
    pins this relay's identity key: keep DATA/identity.key safe and backed up,
    because a new key means a new address.
    """
    try:
        public_hosts = tuple(dict.fromkeys(_normalised(hosts or ("127.0.0.1",))))
        DestinationGuard.parse(proxy_allow)  # a bad network fails here, not at start
        config = RelayConfig(
            public_hosts=public_hosts,
            listen_host=_listen_host(public_hosts),
            port=port,
            settings=RelaySettings(password=password, proxy=not no_proxy, proxy_allow=proxy_allow),
            store=store,
        )
        create_data_dir(data_dir)
        identity = RelayIdentity.generate(SystemRandom(), datetime.datetime.now(datetime.UTC))
        identity.save(data_dir)
        config.save(data_dir)
    except (InvalidRelayConfig, InvalidAddress, ValueError, OSError) as exc:
        _fail(as_json, str(exc))
    address = str(config.address(identity.fingerprint))
    hint = "" if hosts else _LOCAL_ONLY_HINT
    _emit(
        as_json,
        {"address": address, "data": str(data_dir), "fingerprint": identity.fingerprint},
        f"Relay created in {data_dir}\nAddress: {address}\n{hint}"
        f"Start it with: veil-relay start --data {data_dir}",
    )


def _listen_host(public_hosts: tuple[str, ...]) -> str:
    """Listen where clients reach the relay: a relay reachable only on a loopback
    address listens only there, not on every interface."""
    try:
        loopback = all(ipaddress.ip_address(host).is_loopback for host in public_hosts)
    except ValueError:  # a DNS name: the relay's interfaces are not known here
        loopback = False
    return public_hosts[0] if loopback else "0.0.0.0"  # noqa: S104


def _normalised(hosts: tuple[str, ...]) -> list[str]:
    return [normalise_host(host.strip("[]")) for host in hosts]


@main.command()
@data_option
@json_option
def address(data_dir: Path, as_json: bool) -> None:
    """Print the address clients use to reach the relay in DATA."""
    config, identity = _load(data_dir, as_json)
    text = str(config.address(identity.fingerprint))
    _emit(as_json, {"address": text, "fingerprint": identity.fingerprint}, text)


@main.command(short_help="Run the relay in the foreground until SIGTERM/SIGINT.")
@data_option
@json_option
def start(data_dir: Path, as_json: bool) -> None:
    """Run the relay in DATA in the foreground until SIGTERM or SIGINT (Ctrl-C).

    Logs go to stderr as JSON lines (never ids, keys, bodies or client addresses).
    On a signal the relay stops accepting, finishes pending store commits and exits.
    Settings live in DATA/config.toml; restart after editing it.
    """
    config, identity = _load(data_dir, as_json)
    # Everything the relay writes (store, WAL) is for its own eyes only.
    os.umask(_PRIVATE_UMASK)

    def ready(relay: RunningRelay) -> None:
        payload = {
            "address": relay.address,
            "listening": [f"{host}:{port}" for host, port in relay.listening],
            "metrics_port": relay.metrics_port,
        }
        text = f"Relay running at {relay.address} (Ctrl-C to stop)"
        _emit(as_json, payload, text)
        sys.stdout.flush()

    try:
        asyncio.run(run_relay(data_dir, config, identity, ready=ready))
    except (OSError, VeilError) as exc:  # e.g. port in use, unreadable store
        _fail(as_json, f"cannot start: {exc}")
