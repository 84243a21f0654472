"""Benchmark Veil's ratchet: v1 against v2 in the same run, and against vodozemac's
Olm session; prints one JSON object.

A "round trip" is one encrypt plus the matching decrypt. Scenarios: symmetric
steps only (one direction), a DH turn on every message (directions alternate, so
every message starts a new chain) with PQ off and on, and the initial agreement
(both sides, until each holds a working session).

The headline compares ratchet v1 and v2 on full-size messages: each ratchet
message fills a 15,360-byte frame, as the agent's messages do. v1 and v2 round
trips are interleaved one by one and each is timed in CPU seconds of this
process; a figure is the rate of the median round trip, so both versions meet
the same load on a busy shared machine and spikes do not count. Other figures
are wall-clock, best of several repeats. The Olm comparison keeps its 100-byte
messages.
"""

from __future__ import annotations

import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence

import vodozemac

from veil.crypto import SystemRandom
from veil.ratchet import InvitationSecrets, Ratchet, join, max_plaintext_overhead
from veil.wire import VersionRange

PLAINTEXT = b"x" * 100
FRAME_SIZE = 15_360
"""Size of the agent frame a ratchet message fills (the 16 KiB block's payload)."""
REPEATS = 5
RATCHET_VERSIONS = {1: VersionRange(1, 1), 2: VersionRange(1, 2)}


def best_rate(run: Callable[[int], None], count: int) -> float:
    """Operations per second of ``run(count)``, best of ``REPEATS``."""
    return best_rates([run], count)[0]


def best_rates(runs: list[Callable[[int], None]], count: int) -> list[float]:
    """Operations per second of each ``run(count)``, best of ``REPEATS``; the runs
    alternate within each repeat so they share the machine's load evenly."""
    best = [float("inf")] * len(runs)
    for _ in range(REPEATS):
        for index, run in enumerate(runs):
            start = time.perf_counter()
            run(count)
            best[index] = min(best[index], time.perf_counter() - start)
    return [count / seconds for seconds in best]


def interleaved_cpu_rates(runs: Sequence[Callable[[int], None]], count: int) -> list[float]:
    """Round trips per CPU second of each run, from the median of ``count`` single
    round trips per run, interleaved one by one (the order flips every time). Both
    runs thus meet the same machine load, to the millisecond; CPU time of this
    process ignores time spent descheduled, and the median ignores spikes."""
    samples: list[list[float]] = [[] for _ in runs]
    for step in range(count):
        order = range(len(runs)) if step % 2 == 0 else reversed(range(len(runs)))
        for index in order:
            start = time.process_time()
            runs[index](1)
            samples[index].append(time.process_time() - start)
    return [1 / statistics.median(times) for times in samples]


def full_frame_plaintext(pq: bool) -> bytes:
    """A plaintext whose ratchet message is exactly one full frame."""
    return b"x" * (FRAME_SIZE - max_plaintext_overhead(pq))


def veil_pair(pq: bool, version: int = 2) -> tuple[Ratchet, Ratchet, bytes]:
    rng = SystemRandom()
    versions = RATCHET_VERSIONS[version]
    secrets = InvitationSecrets.generate(rng, pq=pq, versions=versions)
    reply, joiner = join(secrets.public, rng, pq=pq, versions=versions)
    inviter = secrets.accept(reply)
    alice, bob = joiner.ratchet(rng), inviter.ratchet(rng)
    bob.decrypt(alice.encrypt(b"first", joiner.associated_data), joiner.associated_data)
    assert alice.version == bob.version == version
    return alice, bob, joiner.associated_data


def veil_symmetric(
    pq: bool, version: int = 2, plaintext: bytes = PLAINTEXT
) -> Callable[[int], None]:
    alice, bob, ad = veil_pair(pq, version)

    def run(count: int) -> None:
        for _ in range(count):
            bob.decrypt(alice.encrypt(plaintext, ad), ad)

    return run


def veil_turns(pq: bool, version: int = 2, plaintext: bytes = PLAINTEXT) -> Callable[[int], None]:
    alice, bob, ad = veil_pair(pq, version)
    sides = [alice, bob]
    messages = itertools.count()  # directions keep alternating across calls

    def run(count: int) -> None:
        for _ in range(count):
            index = next(messages)
            sender, receiver = sides[(index + 1) % 2], sides[index % 2]
            message = sender.encrypt(plaintext, ad)
            assert receiver.decrypt(message, ad) == plaintext

    return run


def versions_side_by_side(figures: dict[str, float]) -> None:
    """Ratchet v1 and v2 on full-frame messages, with the v2/v1 throughput ratio."""
    scenarios: list[tuple[str, Callable[..., Callable[[int], None]], bool, int]] = [
        ("symmetric", veil_symmetric, False, 6000),
        ("symmetric_pq", veil_symmetric, True, 6000),
        ("dh_turn", veil_turns, False, 2000),
        ("dh_turn_pq", veil_turns, True, 1200),
    ]
    for name, scenario, pq, count in scenarios:
        print(f"measuring full-frame {name}, ratchet v1 and v2", file=sys.stderr)
        plaintext = full_frame_plaintext(pq)
        runs = [scenario(pq, version, plaintext) for version in (1, 2)]
        v1_rate, v2_rate = interleaved_cpu_rates(runs, count)
        figures[f"full_frame_{name}_v1_round_trips_per_s"] = round(v1_rate)
        figures[f"full_frame_{name}_v2_round_trips_per_s"] = round(v2_rate)
        figures[f"full_frame_{name}_ratio_v2_over_v1"] = round(v2_rate / v1_rate, 3)


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


def pre_key(message: vodozemac.AnyOlmMessage) -> vodozemac.PreKeyMessage:
    """The first Olm message of a session is always a pre-key message."""
    converted = message.to_pre_key()
    assert converted is not None
    return converted


def olm_pair() -> tuple[vodozemac.Session, vodozemac.Session]:
    alice, bob = vodozemac.Account(), vodozemac.Account()
    bob.generate_one_time_keys(1)
    one_time_key = next(iter(bob.one_time_keys.values()))
    outbound = alice.create_outbound_session(bob.curve25519_key, one_time_key)
    first = outbound.encrypt(b"first")
    inbound, _ = bob.create_inbound_session(alice.curve25519_key, pre_key(first))
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
        bob.create_inbound_session(alice.curve25519_key, pre_key(outbound.encrypt(b"hi")))


def main() -> None:
    figures: dict[str, float] = {"frame_bytes": FRAME_SIZE}
    versions_side_by_side(figures)
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
