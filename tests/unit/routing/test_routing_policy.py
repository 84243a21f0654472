"""Relays, operators, the routing modes, proxy choice and fallback; the config format."""

from __future__ import annotations

import collections
import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.crypto import DeterministicRandom, sha256
from veil.relay.protocol.address import RelayAddress, encode_fingerprint
from veil.routing.config import CONFIG_VERSION, policy_from_dict, policy_to_dict
from veil.routing.errors import InvalidRoutingConfig, NoRouteAvailable, UnknownRelay
from veil.routing.policy import (
    DirectRoute,
    ProxiedRoute,
    RelayEntry,
    RoutingMode,
    RoutingPolicy,
    SocksSettings,
    choose_receive_relay,
    choose_route,
    hosts_to_try,
    random_index,
)


def address(name: str, host: str | None = None) -> RelayAddress:
    fingerprint = encode_fingerprint(sha256(name.encode()))
    return RelayAddress(fingerprint, (host or f"{name}.example",))


def relay(
    name: str, operator: str, *, own: bool = True, receive: bool = True, proxy: bool = True
) -> RelayEntry:
    return RelayEntry(address(name), operator, own=own, receive=receive, proxy=proxy)


A1, A2 = relay("a1", "Alpha"), relay("a2", "Alpha")
B1 = relay("b1", "Beta")
C1 = relay("c1", "Gamma", own=False)
POLICY = RoutingPolicy((A1, A2, B1, C1))
STRANGER = address("stranger")


def rng(seed: bytes = b"policy") -> DeterministicRandom:
    return DeterministicRandom(seed)


def proxy_for(policy: RoutingPolicy, destination: RelayAddress, seed: int) -> RelayEntry:
    route = choose_route(policy, destination, rng(seed.to_bytes(2, "big")))
    assert isinstance(route, ProxiedRoute)
    return route.proxy


# -- modes -------------------------------------------------------------------------


def test_unknown_relays_is_the_default_and_proxies_only_unknown_destinations() -> None:
    assert RoutingPolicy().mode is RoutingMode.UNKNOWN_RELAYS
    assert not POLICY.is_proxied(A1.address)
    assert POLICY.is_proxied(C1.address)  # configured, but not as the user's own
    assert POLICY.is_proxied(STRANGER)


def test_always_and_never() -> None:
    always = RoutingPolicy(POLICY.relays, RoutingMode.ALWAYS)
    never = RoutingPolicy(POLICY.relays, RoutingMode.NEVER)
    assert always.is_proxied(A1.address) and always.is_proxied(STRANGER)
    assert not never.is_proxied(A1.address) and not never.is_proxied(STRANGER)
    assert choose_route(never, STRANGER, rng()) == DirectRoute(STRANGER)


def test_own_destination_goes_direct_under_unknown_relays() -> None:
    assert choose_route(POLICY, A1.address, rng()) == DirectRoute(A1.address)


# -- proxy choice ------------------------------------------------------------------


def test_proxy_is_never_the_destination_itself() -> None:
    always = RoutingPolicy(POLICY.relays, RoutingMode.ALWAYS)
    assert all(proxy_for(always, B1.address, seed) != B1 for seed in range(50))


def test_proxy_of_another_operator_is_preferred() -> None:
    always = RoutingPolicy(POLICY.relays, RoutingMode.ALWAYS)
    chosen = {proxy_for(always, A1.address, seed) for seed in range(60)}
    assert chosen == {B1, C1}


def test_same_operator_is_used_when_it_is_the_only_choice() -> None:
    policy = RoutingPolicy((A1, A2), RoutingMode.ALWAYS)
    assert choose_route(policy, A1.address, rng()) == ProxiedRoute(A1.address, A2)


def test_unknown_destination_spreads_over_all_proxies() -> None:
    counts = collections.Counter(proxy_for(POLICY, STRANGER, s).operator for s in range(200))
    assert set(counts) == {"Alpha", "Beta", "Gamma"}


def test_disabled_proxies_are_not_chosen() -> None:
    policy = POLICY.with_flags([A1.fingerprint, A2.fingerprint, C1.fingerprint], proxy=False)
    assert {proxy_for(policy, STRANGER, seed) for seed in range(20)} == {B1}


# -- fallback ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", [RoutingMode.ALWAYS, RoutingMode.UNKNOWN_RELAYS])
def test_unreachable_proxy_falls_back_to_another_then_fails_without_going_direct(
    mode: RoutingMode,
) -> None:
    policy = RoutingPolicy(POLICY.relays, mode)
    failed: set[str] = set()
    for _ in range(len(policy.relays)):
        route = choose_route(policy, STRANGER, rng(), failed_proxies=frozenset(failed))
        assert isinstance(route, ProxiedRoute)
        assert route.proxy.fingerprint not in failed
        failed.add(route.proxy.fingerprint)
    with pytest.raises(NoRouteAvailable, match="no usable proxy"):
        choose_route(policy, STRANGER, rng(), failed_proxies=frozenset(failed))


def test_no_proxy_configured_fails_for_a_proxied_send() -> None:
    with pytest.raises(NoRouteAvailable):
        choose_route(RoutingPolicy(), STRANGER, rng())


# -- receive relays ----------------------------------------------------------------


def test_receive_relay_is_random_among_enabled_ones() -> None:
    policy = POLICY.with_flags([B1.fingerprint], receive=False)
    chosen = {choose_receive_relay(policy, rng(bytes([s]))) for s in range(80)}
    assert chosen == {A1, A2, C1}


def test_no_receive_relay_is_an_error() -> None:
    policy = POLICY.with_flags([r.fingerprint for r in POLICY.relays], receive=False)
    with pytest.raises(NoRouteAvailable, match="receiving"):
        choose_receive_relay(policy, rng())


@given(st.integers(1, 1000), st.binary(min_size=1, max_size=8))
def test_random_index_is_in_range(count: int, seed: bytes) -> None:
    assert 0 <= random_index(DeterministicRandom(seed), count) < count


def test_random_index_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError):
        random_index(rng(), 0)


# -- editing -----------------------------------------------------------------------


def test_add_replace_remove_and_operators() -> None:
    policy = RoutingPolicy().with_relay(A1).with_relay(B1)
    policy = policy.with_relay(RelayEntry(A1.address, "Alpha", receive=False))
    assert [r.receive for r in policy.relays] == [True, False]
    assert [(o.name, len(o.relays)) for o in POLICY.operators()] == [
        ("Alpha", 2),
        ("Beta", 1),
        ("Gamma", 1),
    ]
    assert policy.without_relay(B1.fingerprint).relays == (policy.relays[1],)
    with pytest.raises(UnknownRelay):
        policy.without_relay(C1.fingerprint)
    with pytest.raises(UnknownRelay):
        policy.with_flags([C1.fingerprint], proxy=False)
    with pytest.raises(UnknownRelay):
        policy.relays_of("Nobody")


def test_a_relay_is_configured_once() -> None:
    with pytest.raises(ValueError, match="once"):
        RoutingPolicy((A1, RelayEntry(A1.address, "Other")))


@pytest.mark.parametrize("name", ["", " padded", "tab\there", "x" * 65])
def test_operator_names_are_checked(name: str) -> None:
    with pytest.raises(ValueError, match="operator"):
        RelayEntry(A1.address, name)


def test_socks_settings_parse() -> None:
    assert SocksSettings.parse("127.0.0.1:9050") == SocksSettings("127.0.0.1", 9050)
    assert SocksSettings.parse("[::1]:1080") == SocksSettings("::1", 1080)
    assert str(SocksSettings("::1", 1080)) == "[::1]:1080"
    for bad in ("nohost", "host:", "host:99999", ":80"):
        with pytest.raises(ValueError):
            SocksSettings.parse(bad)


# -- configuration format ----------------------------------------------------------


def test_config_round_trips_and_is_versioned() -> None:
    policy = RoutingPolicy(
        (A1, relay("onion", "Tor friends", own=False, receive=False)),
        RoutingMode.ALWAYS,
        SocksSettings("127.0.0.1", 9050, isolate=False),
    )
    data = policy_to_dict(policy)
    assert data["version"] == CONFIG_VERSION
    assert data["mode"] == "always"
    assert policy_from_dict(data) == policy


def test_a_private_relays_password_is_kept_in_the_config() -> None:
    private = RoutingPolicy((dataclasses.replace(A1, password="s3cret"),))
    data = policy_to_dict(private)
    assert data["relays"][0]["password"] == "s3cret"
    assert "password" not in policy_to_dict(RoutingPolicy((A1,)))["relays"][0]
    assert policy_from_dict(data) == private


def test_config_defaults() -> None:
    data = {"version": 1, "relays": [{"address": str(A1.address), "operator": "Alpha"}]}
    assert policy_from_dict(data) == RoutingPolicy((A1,))


def test_onion_hosts_are_allowed_in_relay_addresses() -> None:
    onion = "a" * 56 + ".onion"
    text = f"veil://{A1.fingerprint}@relay.example,{onion}"
    data = {"version": 1, "relays": [{"address": text, "operator": "Alpha"}]}
    [entry] = policy_from_dict(data).relays
    assert entry.address.hosts == ("relay.example", onion)


def _base() -> dict[str, Any]:
    return policy_to_dict(RoutingPolicy((A1,), socks=SocksSettings("h", 1)))


def _mutated(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    data = _base()
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("version",), 2, "version"),
        (("version",), True, "version"),
        (("mode",), "sometimes", "mode"),
        (("extra",), 1, "unknown keys"),
        (("relays",), {}, "list"),
        (("relays", 0), "x", "table"),
        (("relays", 0, "address"), "veil://bad", "address"),
        (("relays", 0, "own"), "yes", "true or false"),
        (("relays", 0, "operator"), "", "operator"),
        (("relays", 0, "colour"), "red", "unknown keys"),
        (("socks",), "h:1", "table"),
        (("socks", "port"), "1", "integer"),
        (("socks", "port"), 0, "port"),
    ],
)
def test_bad_config_is_rejected_clearly(
    path: tuple[str | int, ...], value: Any, message: str
) -> None:
    with pytest.raises(InvalidRoutingConfig, match=message):
        policy_from_dict(_mutated(path, value))


def test_config_requires_version_and_relay_fields() -> None:
    with pytest.raises(InvalidRoutingConfig, match="version"):
        policy_from_dict({})
    data = _base()
    del data["relays"][0]["operator"]
    with pytest.raises(InvalidRoutingConfig, match="lacks"):
        policy_from_dict(data)
    data = _base()
    data["relays"].append(dict(data["relays"][0]))
    with pytest.raises(InvalidRoutingConfig, match="once"):
        policy_from_dict(data)


ONION = "c" * 56 + ".onion"


def test_onion_hosts_come_first_through_socks_and_are_skipped_without() -> None:
    both = RelayAddress(A1.fingerprint, ("relay.example", ONION, "192.0.2.1"))
    socks = SocksSettings("127.0.0.1", 9050)
    assert hosts_to_try(both, socks) == (ONION, "relay.example", "192.0.2.1")
    assert hosts_to_try(both, None) == ("relay.example", "192.0.2.1")
    only_onion = RelayAddress(A1.fingerprint, (ONION,))
    assert hosts_to_try(only_onion, socks) == (ONION,)
    with pytest.raises(NoRouteAvailable, match="SOCKS5"):
        hosts_to_try(only_onion, None)
