"""Benchmark Veil's ratchet against vodozemac's Olm session; prints one JSON object.

A "round trip" is one encrypt plus the matching decrypt of a 100-byte message.
Scenarios: symmetric steps only (one direction), a DH turn on every message
(directions alternate, so every message starts a new chain) with PQ off and on,
and the initial agreement (both sides, until each holds a working session).
Each figure is the best of several repeats, to damp noise from a shared machine.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

import vodozemac

from veil.crypto import SystemRandom
from veil.ratchet import InvitationSecrets, Ratchet, join

PLAINTEXT = b"x" * 100
REPEATS = 5


def best_rate(run: Callable[[int], None], count: int) -> float:
    """Operations per second of ``run(count)``, best of ``REPEATS``."""
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        run(count)
        best = min(best, time.perf_counter() - start)
    return count / best


def veil_pair(pq: bool) -> tuple[Ratchet, Ratchet, bytes]:
    rng = SystemRandom()
    secrets = InvitationSecrets.generate(rng, pq=pq)
    reply, joiner = join(secrets.public, rng, pq=pq)
    inviter = secrets.accept(reply)
    alice, bob = joiner.ratchet(rng), inviter.ratchet(rng)
    bob.decrypt(alice.encrypt(b"first", joiner.associated_data), joiner.associated_data)
    return alice, bob, joiner.associated_data


def veil_symmetric(pq: bool) -> Callable[[int], None]:
    alice, bob, ad = veil_pair(pq)

    def run(count: int) -> None:
        for _ in range(count):
            bob.decrypt(alice.encrypt(PLAINTEXT, ad), ad)

    return run


def veil_turns(pq: bool) -> Callable[[int], None]:
    alice, bob, ad = veil_pair(pq)
    sides = [alice, bob]

    def run(count: int) -> None:
        for index in range(count):
            sender, receiver = sides[(index + 1) % 2], sides[index % 2]
            receiver.decrypt(sender.encrypt(PLAINTEXT, ad), ad)

    return run


def veil_agreement(pq: bool) -> Callable[[int], None]:
    rng = SystemRandom()

    def run(count: int) -> None:
        for _ in range(count):
            secrets = InvitationSecrets.generate(rng, pq=pq)
            reply, joiner = join(secrets.public, rng, pq=pq)
            inviter = secrets.accept(reply)
            joiner.ratchet(rng)
            inviter.ratchet(rng)

    return run


def olm_pair() -> tuple[vodozemac.Session, vodozemac.Session]:
    alice, bob = vodozemac.Account(), vodozemac.Account()
    bob.generate_one_time_keys(1)
    one_time_key = next(iter(bob.one_time_keys.values()))
    outbound = alice.create_outbound_session(bob.curve25519_key, one_time_key)
    first = outbound.encrypt(b"first")
    inbound, _ = bob.create_inbound_session(alice.curve25519_key, first.to_pre_key())
    outbound.decrypt(inbound.encrypt(b"ack"))
    return outbound, inbound


def olm_symmetric() -> Callable[[int], None]:
    alice, bob = olm_pair()

    def run(count: int) -> None:
        for _ in range(count):
            bob.decrypt(alice.encrypt(PLAINTEXT))

    return run


def olm_turns() -> Callable[[int], None]:
    sides = olm_pair()

    def run(count: int) -> None:
        for index in range(count):
            sides[index % 2].decrypt(sides[(index + 1) % 2].encrypt(PLAINTEXT))

    return run


def olm_agreement(count: int) -> None:
    for _ in range(count):
        alice, bob = vodozemac.Account(), vodozemac.Account()
        bob.generate_one_time_keys(1)
        one_time_key = next(iter(bob.one_time_keys.values()))
        outbound = alice.create_outbound_session(bob.curve25519_key, one_time_key)
        bob.create_inbound_session(alice.curve25519_key, outbound.encrypt(b"hi").to_pre_key())


def main() -> None:
    figures: dict[str, float] = {}
    scenarios: list[tuple[str, Callable[[int], None], int]] = [
        ("veil_symmetric_round_trips_per_s", veil_symmetric(pq=False), 4000),
        ("veil_symmetric_pq_round_trips_per_s", veil_symmetric(pq=True), 4000),
        ("veil_dh_turn_round_trips_per_s", veil_turns(pq=False), 1000),
        ("veil_dh_turn_pq_round_trips_per_s", veil_turns(pq=True), 600),
        ("olm_symmetric_round_trips_per_s", olm_symmetric(), 4000),
        ("olm_dh_turn_round_trips_per_s", olm_turns(), 1000),
    ]
    for name, run, count in scenarios:
        print(f"measuring {name}", file=sys.stderr)
        figures[name] = round(best_rate(run, count))
    for name, run, count in [
        ("veil_agreement_ms", veil_agreement(pq=False), 200),
        ("veil_agreement_pq_ms", veil_agreement(pq=True), 200),
        ("olm_agreement_ms", olm_agreement, 200),
    ]:
        print(f"measuring {name}", file=sys.stderr)
        figures[name] = round(1000 / best_rate(run, count), 3)
    figures["ratio_symmetric_veil_over_olm"] = round(
        figures["veil_symmetric_round_trips_per_s"] / figures["olm_symmetric_round_trips_per_s"], 3
    )
    figures["ratio_dh_turn_veil_over_olm"] = round(
        figures["veil_dh_turn_round_trips_per_s"] / figures["olm_dh_turn_round_trips_per_s"], 3
    )
    figures["ratio_agreement_pq_veil_over_olm"] = round(
        figures["veil_agreement_pq_ms"] / figures["olm_agreement_ms"], 3
    )
    print(json.dumps({"benchmark": "ratchet", "plaintext_bytes": len(PLAINTEXT), **figures}))


if __name__ == "__main__":
    main()
