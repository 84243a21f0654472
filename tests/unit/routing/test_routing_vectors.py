"""Known-answer vector for both envelopes, checked in both directions.

``tests/vectors/routing/envelope_v1.json`` was produced by this implementation from the fixed
keys and seed it records; every derivation is specified in
docs/protocol/routing.md section 4, so another implementation can reproduce it.
The test rebuilds every output from the inputs, and opens the recorded bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from veil.crypto import X25519KeyPair
from veil.relay.protocol.address import RelayAddress
from veil.routing import (
    ForwardReceiver,
    PendingCommand,
    ProxiedDestination,
    ProxyForward,
    ProxyForwarder,
    ProxyResponse,
    RelayForward,
    RelayResponse,
    decode_routing_command,
    decode_routing_response,
    encode_routing_command,
    encode_routing_response,
)

VECTOR = Path(__file__).resolve().parents[2] / "vectors" / "routing" / "envelope_v1.json"


class ScriptedRandom:
    """Returns the recorded values, in order, exactly as requested."""

    def __init__(self, *values: bytes) -> None:
        self._values = list(values)

    def random_bytes(self, length: int) -> bytes:
        value = self._values.pop(0)
        assert len(value) == length
        return value


def destination(vector: dict[str, Any]) -> ProxiedDestination:
    session_key = X25519KeyPair(bytes.fromhex(vector["destination_session_private"]))
    return ProxiedDestination(
        address=RelayAddress("A" * 43, ("dest.example",)),
        proxy_session_id=bytes(24),
        identity_key=bytes(32),
        session_id=bytes.fromhex(vector["destination_session_id"]),
        session_key=session_key.public,
        relay_version=1,
        routing_version=vector["version"],
    )


def forwarder(vector: dict[str, Any]) -> ProxyForwarder:
    target = destination(vector)
    rng = ScriptedRandom(
        bytes.fromhex(vector["proxy_forwarding_private"]), bytes.fromhex(vector["seed"])
    )
    return ProxyForwarder(target.session_id, target.session_key, rng)


def receiver(vector: dict[str, Any]) -> ForwardReceiver:
    session_key = X25519KeyPair(bytes.fromhex(vector["destination_session_private"]))
    return ForwardReceiver(bytes.fromhex(vector["destination_session_id"]), session_key)


def seal(vector: dict[str, Any]) -> tuple[ProxyForward, PendingCommand]:
    client_rng = ScriptedRandom(bytes.fromhex(vector["client_ephemeral_private"]))
    return destination(vector).seal_command(bytes.fromhex(vector["command"]), client_rng)


def build(vector: dict[str, Any]) -> dict[str, str]:
    """Compute every output of the vector from its inputs alone."""
    forward, _ = seal(vector)
    relay_forward, pending_forward = forwarder(vector).wrap(forward)
    opened = receiver(vector).open(relay_forward)
    relay_response = opened.seal_response(bytes.fromhex(vector["response"]))
    return {
        "pfwd": encode_routing_command(forward).hex(),
        "rfwd": encode_routing_command(relay_forward).hex(),
        "rres": encode_routing_response(relay_response).hex(),
        "pres": encode_routing_response(pending_forward.unwrap(relay_response)).hex(),
    }


@pytest.fixture(scope="module")
def vector() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(VECTOR.read_text())
    return loaded


def test_outputs_are_reproduced_from_the_inputs(vector: dict[str, Any]) -> None:
    assert build(vector) == vector["expected"]


def test_each_hop_accepts_the_recorded_bytes_of_the_previous_one(vector: dict[str, Any]) -> None:
    expected = {name: bytes.fromhex(value) for name, value in vector["expected"].items()}
    forward = decode_routing_command(expected["pfwd"])
    relay_forward = decode_routing_command(expected["rfwd"])
    relay_response = decode_routing_response(expected["rres"])
    proxy_response = decode_routing_response(expected["pres"])
    assert isinstance(forward, ProxyForward) and isinstance(relay_forward, RelayForward)
    assert isinstance(relay_response, RelayResponse)
    assert isinstance(proxy_response, ProxyResponse)

    rewrapped, pending_forward = forwarder(vector).wrap(forward)
    assert rewrapped == relay_forward
    assert receiver(vector).open(relay_forward).transmission.hex() == vector["command"]
    assert pending_forward.unwrap(relay_response) == proxy_response
    _, pending = seal(vector)
    assert pending.open_response(proxy_response).hex() == vector["response"]
