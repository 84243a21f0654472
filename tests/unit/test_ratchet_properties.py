"""Property tests: random schedules of sends, deliveries, drops, replays and DH turns.

"Across 1,000 random schedules every message decrypts exactly once": each schedule
interleaves both sides sending (so the DH ratchet turns both ways) with deliveries
in random order, dropped messages and replays. Every delivered message must decrypt
to its plaintext the first time and be refused (with the state untouched) after.
The same holds across ratchet versions: v2 sessions, v1 sessions, a v2 client with
a v1-only client, and a v1 connection upgrading in place (where each side's
sending version must never go down).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.ratchet_pairs import agreed_pair, pinned_v1_sessions
from veil.crypto import DeterministicRandom
from veil.ratchet import Ratchet, RatchetProtocolError
from veil.wire import VersionRange

OPERATIONS = st.lists(
    st.tuples(st.sampled_from(["send", "deliver", "replay", "drop"]), st.integers(0, 1 << 16)),
    max_size=24,
)


@dataclass
class Wire:
    """Messages in flight between the two ratchets and what happened to them."""

    sides: list[Ratchet]
    associated_data: bytes
    in_flight: list[tuple[int, bytes, bytes]] = field(default_factory=list)
    delivered: list[tuple[int, bytes, bytes]] = field(default_factory=list)
    decrypted: list[bytes] = field(default_factory=list)
    sent: int = 0
    dropped: int = 0
    last_version: list[int] = field(default_factory=lambda: [0, 0])

    def send(self, side: int) -> None:
        if not self.sides[side].can_send:
            side = 1 - side  # the responder speaks only after the first message
        plaintext = b"message %d from %d" % (self.sent, side)
        message = self.sides[side].encrypt(plaintext, self.associated_data)
        assert message[0] >= self.last_version[side]  # a side never sends a lower version
        self.last_version[side] = message[0]
        self.in_flight.append((1 - side, message, plaintext))
        self.sent += 1

    def deliver(self, pick: int) -> None:
        receiver, message, plaintext = entry = self.in_flight.pop(pick % len(self.in_flight))
        assert self.sides[receiver].decrypt(message, self.associated_data) == plaintext
        self.decrypted.append(plaintext)
        self.delivered.append(entry)

    def replay(self, pick: int) -> None:
        receiver, message, _ = self.delivered[pick % len(self.delivered)]
        before = self.sides[receiver].to_bytes()
        with pytest.raises(RatchetProtocolError):
            self.sides[receiver].decrypt(message, self.associated_data)
        assert self.sides[receiver].to_bytes() == before

    def run(self, operations: list[tuple[str, int]]) -> None:
        for operation, pick in operations:
            if operation == "send":
                self.send(pick % 2)
            elif operation == "deliver" and self.in_flight:
                self.deliver(pick)
            elif operation == "replay" and self.delivered:
                self.replay(pick)
            elif operation == "drop" and self.in_flight:
                self.in_flight.pop(pick % len(self.in_flight))
                self.dropped += 1
        while self.in_flight:
            self.deliver(0)


def fresh_sides(snapshot: tuple[bytes, bytes]) -> list[Ratchet]:
    rng = DeterministicRandom(b"schedule")
    return [Ratchet.from_bytes(snapshot[0], rng), Ratchet.from_bytes(snapshot[1], rng)]


Snapshot = tuple[tuple[bytes, bytes], bytes]
V1_ONLY, V1_V2 = VersionRange(1, 1), VersionRange(1, 2)


def snapshot(pq: bool, joiner: VersionRange = V1_V2, inviter: VersionRange = V1_V2) -> Snapshot:
    seed = b"schedules pq=%d %s %s" % (pq, str(joiner).encode(), str(inviter).encode())
    sides = agreed_pair(seed, pq=pq, versions=inviter, joiner_versions=joiner)
    return (sides[0].to_bytes(), sides[1].to_bytes()), sides[2]


def upgrading_snapshot(pq: bool) -> Snapshot:
    """A connection stored by Veil before ratchet v2, loaded by this one."""
    joiner, inviter, associated_data = pinned_v1_sessions(pq)
    return (inviter.to_bytes(), joiner.to_bytes()), associated_data


CLASSIC, CLASSIC_AD = snapshot(pq=False)
HYBRID, HYBRID_AD = snapshot(pq=True)
VERSION_MIXES = {
    "v1": snapshot(pq=False, joiner=V1_ONLY, inviter=V1_ONLY),
    "v1-joiner": snapshot(pq=False, joiner=V1_ONLY),
    "v1-inviter": snapshot(pq=False, inviter=V1_ONLY),
    "upgrading": upgrading_snapshot(pq=False),
    "upgrading-pq": upgrading_snapshot(pq=True),
}


@settings(max_examples=1000, derandomize=True, database=None)
@given(operations=OPERATIONS)
def test_every_message_decrypts_exactly_once_over_1000_schedules(
    operations: list[tuple[str, int]],
) -> None:
    wire = Wire(fresh_sides(CLASSIC), CLASSIC_AD)
    wire.run(operations)
    assert len(set(wire.decrypted)) == len(wire.decrypted) == wire.sent - wire.dropped


@settings(max_examples=40, derandomize=True, database=None)
@given(operations=OPERATIONS)
def test_schedules_with_the_pq_hybrid(operations: list[tuple[str, int]]) -> None:
    wire = Wire(fresh_sides(HYBRID), HYBRID_AD)
    wire.run(operations)
    assert len(set(wire.decrypted)) == len(wire.decrypted) == wire.sent - wire.dropped


@pytest.mark.parametrize("mix", sorted(VERSION_MIXES))
@settings(max_examples=60, derandomize=True, database=None)
@given(operations=OPERATIONS)
def test_schedules_across_ratchet_versions(mix: str, operations: list[tuple[str, int]]) -> None:
    states, associated_data = VERSION_MIXES[mix]
    wire = Wire(fresh_sides(states), associated_data)
    wire.run(operations)
    assert len(set(wire.decrypted)) == len(wire.decrypted) == wire.sent - wire.dropped
