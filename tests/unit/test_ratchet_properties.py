"""Property tests: random schedules of sends, deliveries, drops, replays and DH turns.

"Across 1,000 random schedules every message decrypts exactly once": each schedule
interleaves both sides sending (so the DH ratchet turns both ways) with deliveries
in random order, dropped messages and replays. Every delivered message must decrypt
to its plaintext the first time and be refused (with the state untouched) after.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.ratchet_pairs import agreed_pair
from veil.crypto import DeterministicRandom
from veil.ratchet import Ratchet, RatchetProtocolError

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

    def send(self, side: int) -> None:
        if not self.sides[side].can_send:
            side = 1 - side  # the responder speaks only after the first message
        plaintext = b"message %d from %d" % (self.sent, side)
        self.in_flight.append(
            (1 - side, self.sides[side].encrypt(plaintext, self.associated_data), plaintext)
        )
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


def snapshot(pq: bool) -> tuple[tuple[bytes, bytes], bytes]:
    joiner, inviter, associated_data = agreed_pair(b"schedules pq=%d" % pq, pq=pq)
    return (joiner.to_bytes(), inviter.to_bytes()), associated_data


CLASSIC, CLASSIC_AD = snapshot(pq=False)
HYBRID, HYBRID_AD = snapshot(pq=True)


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
