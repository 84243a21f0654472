"""The ``relays`` and ``operators`` commands, ready to mount into the ``veil`` CLI.

:func:`routing_commands` builds them around a callback that opens the user's
:class:`~veil.routing.config_file.PolicyStore`, so the main CLI decides where the
policy lives. Options the main CLI needs on every command (such as ``--home``)
are passed in and handed back to the callback::

    relays, operators = routing_commands(open_store, [home_option])
    main.add_command(relays)
    main.add_command(operators)

Every command takes ``--json`` and then prints exactly one JSON object.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

import click

from veil.errors import VeilError
from veil.relay.protocol.address import RelayAddress
from veil.relay.protocol.errors import InvalidAddress
from veil.routing.config_file import PolicyStore
from veil.routing.policy import RelayEntry, RoutingMode, RoutingPolicy

__all__ = ["StoreOpener", "list_operators", "list_relays", "routing_commands"]

StoreOpener = Callable[[Mapping[str, Any]], PolicyStore]
"""Opens the policy store from the values of the extra options."""

_JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")


def _relay_json(relay: RelayEntry) -> dict[str, Any]:
    return {
        "address": str(relay.address),
        "fingerprint": relay.fingerprint,
        "operator": relay.operator,
        "own": relay.own,
        "receive": relay.receive,
        "proxy": relay.proxy,
    }


def _relay_line(relay: RelayEntry) -> str:
    flags = [
        name
        for name, on in (("own", relay.own), ("receive", relay.receive), ("proxy", relay.proxy))
        if on
    ]
    return f"{relay.operator:<20} {','.join(flags) or '-':<18} {relay.address}"


def _emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(data, ensure_ascii=False) if as_json else text)


def _fail(as_json: bool, error: Exception) -> NoReturn:
    if as_json:
        kind = type(error).__name__
        code = getattr(error, "code", 1)
        click.echo(json.dumps({"error": str(error), "code": code, "kind": kind}))
    else:
        click.echo(f"error: {error}", err=True)
    sys.exit(1)


def _fingerprint_of(relay: str) -> str:
    """A relay named by its full address or by its bare fingerprint."""
    if relay.startswith("veil://"):
        return RelayAddress.parse(relay).fingerprint
    return relay


def _selected(policy: RoutingPolicy, relays: Sequence[str], operator: str | None) -> list[str]:
    chosen = [_fingerprint_of(relay) for relay in relays]
    if operator is not None:
        chosen += [relay.fingerprint for relay in policy.relays_of(operator)]
    if not chosen:
        raise click.UsageError("name at least one relay, or --operator NAME")
    return chosen


def _jobs(receive: bool, proxy: bool) -> tuple[bool, bool]:
    # Naming neither job means both.
    return (True, True) if not (receive or proxy) else (receive, proxy)


def routing_commands(
    open_store: StoreOpener, extra_options: Sequence[click.Option] = ()
) -> tuple[click.Group, click.Command]:
    """Build the ``relays`` group and the ``operators`` command around ``open_store``."""

    def command(name: str, function: Callable[..., tuple[dict[str, Any], str]]) -> click.Command:
        """Open the store, run ``function(store, ...)``, print its result or the error."""

        @functools.wraps(function)
        def run(as_json: bool, **values: Any) -> None:
            extra = {option.name: values.pop(option.name) for option in extra_options}
            try:
                data, text = function(open_store(extra), **values)
            except (VeilError, ValueError) as exc:
                _fail(as_json, exc)
            _emit(as_json, data, text)

        built = click.command(name)(_JSON_OPTION(run))
        built.params.extend(extra_options)
        return built

    relays = click.Group("relays", help="The relays you receive on and send through.")
    for name, function in _RELAY_COMMANDS.items():
        relays.add_command(command(name, function))
    return relays, command("operators", list_operators)


def list_relays(store: PolicyStore) -> tuple[dict[str, Any], str]:
    """List configured relays with their operator and what each is enabled for
    (``veil relays list``; also the service API's ``relays`` method)."""
    policy = store.load()
    socks = None if policy.socks is None else str(policy.socks)
    lines = [f"private routing: {policy.mode}", f"SOCKS5 proxy: {socks or 'none'}"]
    lines += [_relay_line(r) for r in policy.relays]
    data = {
        "mode": str(policy.mode),
        "socks": socks,
        "relays": [_relay_json(r) for r in policy.relays],
    }
    return data, "\n".join(lines)


@click.argument("address")
@click.option("--operator", required=True, help="Who runs this relay.")
@click.option("--own/--not-own", default=True, help="Your own relay: sends to it go direct.")
@click.option("--receive/--no-receive", default=True, help="Use it for new receive queues.")
@click.option("--proxy/--no-proxy", default=True, help="Use it as a proxy for sending.")
def _add(
    store: PolicyStore, *, address: str, operator: str, own: bool, receive: bool, proxy: bool
) -> tuple[dict[str, Any], str]:
    """Add a relay (or change an existing one) under an operator."""
    try:
        parsed = RelayAddress.parse(address)
    except InvalidAddress as exc:
        raise click.BadParameter(str(exc), param_hint="ADDRESS") from exc
    relay = RelayEntry(parsed, operator, own=own, receive=receive, proxy=proxy)
    store.save(store.load().with_relay(relay))
    return {"added": _relay_json(relay)}, f"added {relay.address}"


@click.argument("relay")
def _remove(store: PolicyStore, relay: str) -> tuple[dict[str, Any], str]:
    """Remove a relay, named by its address or fingerprint."""
    fingerprint = _fingerprint_of(relay)
    store.save(store.load().without_relay(fingerprint))
    return {"removed": fingerprint}, f"removed {fingerprint}"


def _set_jobs(
    store: PolicyStore,
    *,
    relays: tuple[str, ...],
    operator: str | None,
    receive: bool,
    proxy: bool,
    enabled: bool,
) -> tuple[dict[str, Any], str]:
    policy = store.load()
    chosen = _selected(policy, relays, operator)
    for_receive, for_proxy = _jobs(receive, proxy)
    policy = policy.with_flags(
        chosen,
        receive=enabled if for_receive else None,
        proxy=enabled if for_proxy else None,
    )
    store.save(policy)
    changed = [_relay_json(r) for r in policy.relays if r.fingerprint in set(chosen)]
    verb = "enabled" if enabled else "disabled"
    return {verb: changed}, "\n".join(f"{verb} {r['address']}" for r in changed)


def _job_options(function: Callable[..., Any]) -> Callable[..., Any]:
    # Applied innermost first, like stacked decorators: help lists them bottom-up.
    for decorator in (
        click.option("--proxy", is_flag=True, help="Only for proxying."),
        click.option("--receive", is_flag=True, help="Only for receiving."),
        click.option("--operator", help="Every relay of this operator."),
        click.argument("relays", nargs=-1),
    ):
        function = decorator(function)
    return function


@_job_options
def _enable(store: PolicyStore, **selection: Any) -> tuple[dict[str, Any], str]:
    """Enable relays for receiving and/or proxying (both if neither is named)."""
    return _set_jobs(store, enabled=True, **selection)


@_job_options
def _disable(store: PolicyStore, **selection: Any) -> tuple[dict[str, Any], str]:
    """Disable relays for receiving and/or proxying (both if neither is named)."""
    return _set_jobs(store, enabled=False, **selection)


@click.argument("mode", required=False, type=click.Choice([m.value for m in RoutingMode]))
def _mode(store: PolicyStore, mode: str | None) -> tuple[dict[str, Any], str]:
    """Show or set private routing: always, unknown-relays (default) or never."""
    policy = store.load()
    if mode is not None:
        policy = RoutingPolicy(policy.relays, RoutingMode(mode), policy.socks)
        store.save(policy)
    return {"mode": str(policy.mode)}, f"private routing: {policy.mode}"


def list_operators(store: PolicyStore) -> tuple[dict[str, Any], str]:
    """List operators and the relays each one runs (``veil operators``; also the
    service API's ``operators`` method)."""
    summaries = store.load().operators()
    data = {
        "operators": [
            {"name": o.name, "relays": [_relay_json(r) for r in o.relays]} for o in summaries
        ]
    }
    lines = [f"{o.name}: {len(o.relays)} relay(s)" for o in summaries]
    return data, "\n".join(lines) or "no operators configured"


_RELAY_COMMANDS: dict[str, Callable[..., tuple[dict[str, Any], str]]] = {
    "list": list_relays,
    "add": _add,
    "remove": _remove,
    "enable": _enable,
    "disable": _disable,
    "mode": _mode,
}
