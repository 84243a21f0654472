"""``veil relays ...`` and ``veil operators``, mounted on a stand-in main group."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from veil.crypto import sha256
from veil.relay.protocol.address import encode_fingerprint
from veil.routing.cli import routing_commands
from veil.routing.config_file import TomlPolicyFile
from veil.routing.policy import RoutingMode, RoutingPolicy

HOME_OPTION = click.Option(["--home"], type=click.Path(path_type=Path), required=True)


def fingerprint(name: str) -> str:
    return encode_fingerprint(sha256(name.encode()))


ALPHA = f"veil://{fingerprint('alpha')}@alpha.example"
ALPHA_ONION = f"veil://{fingerprint('alpha2')}@{'b' * 56}.onion"
BETA = f"veil://{fingerprint('beta')}@beta.example:7000"


def open_store(options: Mapping[str, Any]) -> TomlPolicyFile:
    return TomlPolicyFile(options["home"] / "routing.toml")


@click.group()
def main() -> None:
    """Stand-in for the ``veil`` command."""


for command in routing_commands(open_store, [HOME_OPTION]):
    main.add_command(command)


class Veil:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.runner = CliRunner()

    def __call__(self, *args: str, ok: bool = True) -> Any:
        result = self.runner.invoke(main, [*args, "--home", str(self.home), "--json"])
        assert (result.exit_code == 0) == ok, result.output
        return json.loads(result.output)

    def text(self, *args: str) -> str:
        result = self.runner.invoke(main, [*args, "--home", str(self.home)])
        assert result.exit_code == 0, result.output
        return result.output

    def policy(self) -> RoutingPolicy:
        return TomlPolicyFile(self.home / "routing.toml").load()


@pytest.fixture
def veil(tmp_path: Path) -> Veil:
    veil = Veil(tmp_path)
    veil("relays", "add", ALPHA, "--operator", "Alpha Org")
    veil("relays", "add", ALPHA_ONION, "--operator", "Alpha Org", "--no-receive")
    veil("relays", "add", BETA, "--operator", "Beta", "--not-own")
    return veil


def test_list_shows_every_relay_with_its_flags(veil: Veil) -> None:
    listing = veil("relays", "list")
    assert listing["mode"] == "unknown-relays"
    assert [(r["address"], r["own"], r["receive"], r["proxy"]) for r in listing["relays"]] == [
        (ALPHA, True, True, True),
        (ALPHA_ONION, True, False, True),
        (BETA, False, True, True),
    ]
    assert listing["relays"][2]["fingerprint"] == fingerprint("beta")
    text = veil.text("relays", "list")
    assert "private routing: unknown-relays" in text and "own,proxy" in text


def test_operators_group_relays(veil: Veil) -> None:
    operators = veil("operators")["operators"]
    assert [(o["name"], len(o["relays"])) for o in operators] == [("Alpha Org", 2), ("Beta", 1)]
    assert veil.text("operators").splitlines() == ["Alpha Org: 2 relay(s)", "Beta: 1 relay(s)"]


def test_disable_and_enable_one_job_or_both(veil: Veil) -> None:
    changed = veil("relays", "disable", BETA, "--proxy")["disabled"]
    assert [(r["receive"], r["proxy"]) for r in changed] == [(True, False)]
    veil("relays", "disable", fingerprint("beta"))
    assert veil.policy().find(fingerprint("beta")) is not None
    beta = veil.policy().find(fingerprint("beta"))
    assert beta is not None and not beta.receive and not beta.proxy
    veil("relays", "enable", BETA, "--receive")
    beta = veil.policy().find(fingerprint("beta"))
    assert beta is not None and beta.receive and not beta.proxy


def test_enable_by_operator(veil: Veil) -> None:
    veil("relays", "disable", "--operator", "Alpha Org")
    assert all(not (r.receive or r.proxy) for r in veil.policy().relays_of("Alpha Org"))
    changed = veil("relays", "enable", "--operator", "Alpha Org", "--proxy")["enabled"]
    assert [r["proxy"] for r in changed] == [True, True]


def test_remove_by_address_or_fingerprint(veil: Veil) -> None:
    assert veil("relays", "remove", ALPHA)["removed"] == fingerprint("alpha")
    veil("relays", "remove", fingerprint("beta"))
    assert [r.address.hosts[0] for r in veil.policy().relays] == ["b" * 56 + ".onion"]


def test_mode_is_shown_and_set(veil: Veil) -> None:
    assert veil("relays", "mode") == {"mode": "unknown-relays"}
    assert veil("relays", "mode", "always") == {"mode": "always"}
    assert veil.policy().mode is RoutingMode.ALWAYS


def test_errors_are_reported_as_json(veil: Veil) -> None:
    error = veil("relays", "remove", fingerprint("nobody"), ok=False)
    assert error["kind"] == "UnknownRelay" and error["code"] == 492
    error = veil("relays", "enable", "--operator", "Nobody", ok=False)
    assert error["kind"] == "UnknownRelay"


def test_bad_input_is_a_usage_error(veil: Veil) -> None:
    result = veil.runner.invoke(
        main, ["relays", "add", "veil://x@y", "--operator", "X", "--home", str(veil.home)]
    )
    assert result.exit_code == 2 and "ADDRESS" in result.output
    result = veil.runner.invoke(main, ["relays", "enable", "--home", str(veil.home)])
    assert result.exit_code == 2 and "--operator" in result.output


def test_policy_file_is_private_and_versioned(veil: Veil) -> None:
    path = veil.home / "routing.toml"
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text().startswith("version = 1\n")


def test_missing_file_is_the_default_policy(tmp_path: Path) -> None:
    assert TomlPolicyFile(tmp_path / "absent.toml").load() == RoutingPolicy()


def test_broken_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "routing.toml").write_text("version = [")
    error = Veil(tmp_path)("relays", "list", ok=False)
    assert error["kind"] == "InvalidRoutingConfig" and "TOML" in error["error"]
