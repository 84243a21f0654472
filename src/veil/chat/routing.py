"""The profile's private-routing policy: where it lives and how the client uses it.

The policy (relays grouped by operator, the routing mode, SOCKS5) is kept in
``routing.toml`` next to the encrypted store, so the ``veil relays`` and ``veil
operators`` commands work without unlocking the profile. The relays given to
``veil init --relay`` become the user's own relays, each under an operator named
after its first host. A profile made before the file existed gets it seeded from
the relays recorded in its store, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from veil.agent.relay_pool import RelayPool
from veil.agent.routing_port import RoutedRelays
from veil.crypto import RandomSource
from veil.relay.protocol.address import RelayAddress
from veil.routing.config_file import TomlPolicyFile
from veil.routing.policy import MAX_OPERATOR_NAME, RelayEntry, RoutingPolicy, SocksSettings
from veil.routing.socks import SocksConnector

__all__ = [
    "ROUTING_FILE",
    "initial_policy",
    "load_policy",
    "own_relay",
    "policy_file",
    "routed_relays",
]

ROUTING_FILE = "routing.toml"


def policy_file(home: Path) -> TomlPolicyFile:
    """The routing policy file of the profile in ``home``."""
    return TomlPolicyFile(home / ROUTING_FILE)


def own_relay(address: str) -> RelayEntry:
    """A relay the user chose for themselves, under an operator named by its host."""
    parsed = RelayAddress.parse(address)
    # Host names can be longer than an operator name may be; the start is enough to tell.
    return RelayEntry(parsed, parsed.hosts[0][:MAX_OPERATOR_NAME])


def initial_policy(relays: Sequence[str], socks: SocksSettings | None = None) -> RoutingPolicy:
    """The default policy for a new profile: ``relays`` as own relays, enabled for both jobs."""
    return RoutingPolicy(relays=tuple(own_relay(relay) for relay in relays), socks=socks)


def load_policy(home: Path, store_relays: Sequence[str]) -> RoutingPolicy:
    """The policy in ``home``; if there is no file yet, seed it from ``store_relays``."""
    file = policy_file(home)
    if file.path.exists():
        return file.load()
    policy = initial_policy(store_relays)
    file.save(policy)
    return policy


def routed_relays(policy: RoutingPolicy, rng: RandomSource) -> RoutedRelays:
    """The agent's relay port for ``policy``: proxies as it says, SOCKS5 if configured."""
    dialer = None if policy.socks is None else SocksConnector(policy.socks, rng)
    passwords = {str(r.address): r.password for r in policy.relays if r.password is not None}
    return RoutedRelays(RelayPool(rng, dialer=dialer, passwords=passwords), policy, rng)
