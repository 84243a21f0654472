"""Private routing through the ``veil`` command itself, with real relay processes.

Three ``veil-relay`` processes on loopback: Alice's own relay, Bob's relay, and a
proxy relay Alice adds with ``veil relays add``. With ``veil relays mode always``
Alice's sends to Bob's relay must go through the proxy: the relays' metrics show
the forwards, and with the proxy stopped her message waits in her outbox rather
than going direct, then arrives exactly once when the proxy is back.
"""

from __future__ import annotations

import asyncio
import re
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from helpers.dante import danted, requires_danted
from helpers.relay_process import RelayProcess, free_port
from helpers.veil_cli import VeilUser, connect
from veil.relay.server.config import CONFIG_FILE
from veil.routing.policy import SocksSettings

pytestmark = pytest.mark.slow

__all__ = ["danted"]  # a fixture: imported for pytest to find


class MeteredRelay:
    """A relay process with its Prometheus metrics on a loopback port."""

    def __init__(self, data_dir: Path) -> None:
        self.process = RelayProcess.init(data_dir)
        self.metrics_port = free_port()
        with (data_dir / CONFIG_FILE).open("a") as config:
            config.write(f"\n[metrics]\nport = {self.metrics_port}\n")

    def counter(self, name: str) -> int:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        found = re.search(rf"^veil_relay_{name}_total (\d+)$", text, re.MULTILINE)
        assert found, f"no counter {name} in the metrics"
        return int(found.group(1))


@pytest.fixture
async def relays(tmp_path: Path) -> AsyncIterator[dict[str, MeteredRelay]]:
    """Alice's relay, Bob's relay and a proxy relay, running."""
    relays = {name: MeteredRelay(tmp_path / name) for name in ("alice", "bob", "proxy")}
    await asyncio.gather(*(relay.process.start() for relay in relays.values()))
    yield relays
    for relay in relays.values():
        process = relay.process.process
        if process is not None and process.returncode is None:
            await relay.process.stop()


async def configure_proxy(alice: VeilUser, own: RelayProcess, proxy: RelayProcess) -> None:
    """Alice adds the proxy relay and routes every send through a proxy."""
    await alice.run(
        "relays", "add", str(proxy.address), "--operator", "Proxy Org", "--not-own", "--no-receive"
    )
    await alice.run("relays", "disable", str(own.address), "--proxy")
    assert (await alice.run("relays", "mode", "always")) == {"mode": "always"}
    listing = await alice.run("relays", "list")
    flags = {r["operator"]: (r["own"], r["receive"], r["proxy"]) for r in listing["relays"]}
    assert flags == {"127.0.0.1": (True, True, False), "Proxy Org": (False, False, True)}
    operators = await alice.run("operators")
    assert [o["name"] for o in operators["operators"]] == ["127.0.0.1", "Proxy Org"]


async def texts_received(user: VeilUser) -> list[str]:
    return [e["text"] for e in await user.receive() if e["kind"] == "message"]


async def test_alice_sends_to_bobs_relay_only_through_the_proxy(
    tmp_path: Path, relays: dict[str, MeteredRelay]
) -> None:
    alice, bob = VeilUser(tmp_path / "a", "Alice"), VeilUser(tmp_path / "b", "Bob")
    await alice.init(relays["alice"].process)
    await bob.init(relays["bob"].process)
    proxy = relays["proxy"]
    await configure_proxy(alice, relays["alice"].process, proxy.process)

    await connect(bob, alice)  # Alice joins: her SKEY and SEND go to Bob's relay
    await alice.run("send", "Bob", "through the proxy")
    assert await texts_received(bob) == ["through the proxy"]
    forwarded = proxy.counter("forwards_proxied")
    assert forwarded >= 2  # at least the handshake's SKEY and the message's SEND
    assert relays["bob"].counter("forwards_received") >= forwarded

    (contact,) = (await alice.run("contacts"))["contacts"]
    bob_relay, alice_relay = relays["bob"].process.address, relays["alice"].process.address
    assert contact["relays"] == [
        {"receive": str(alice_relay), "send": str(bob_relay), "proxied": True}
    ]

    # With the proxy down the message waits: it never goes to Bob's relay directly.
    await proxy.process.stop()
    assert (await alice.run("send", "Bob", "after the outage"))["pending"] == 1
    assert await texts_received(bob) == []
    await proxy.process.start()
    await alice.receive()  # any command sends what waits in the outbox
    assert await texts_received(bob) == ["after the outage"]
    assert proxy.counter("forwards_proxied") >= 1


@requires_danted
async def test_init_socks_is_persisted_and_every_connection_uses_it(
    tmp_path: Path, relays: dict[str, MeteredRelay], danted: SocksSettings
) -> None:
    alice = VeilUser(tmp_path / "a", "Alice")
    relay = relays["alice"].process
    await alice.run(
        "init", "--name", "Alice", "--relay", str(relay.address), "--socks", str(danted),
        "--fast-kdf",
    )  # fmt: skip
    assert (await alice.run("relays", "list"))["socks"] == str(danted)
    assert (await alice.run("invite"))["link"]

    # Pointed at a SOCKS port where nothing listens, the same relay is unreachable.
    settings_file = alice.home / "routing.toml"
    text = settings_file.read_text().replace(f"port = {danted.port}", f"port = {free_port()}")
    settings_file.write_text(text)
    failed = await alice.run("invite", ok=False)
    assert "SocksConnectFailed" in failed["error"]
