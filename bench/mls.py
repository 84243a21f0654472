"""Benchmark Veil's MLS against ts-mls side by side; prints one JSON object.

For suites 0x0001 and X-Wing (0xF00D) and groups of 10, 100, 1,000 and 10,000
members (``--quick``: 10 and 100), each implementation:

- creates the group with all members added in one commit (key packages are made
  beforehand and not timed);
- lets one joiner join from the Welcome (its full tree validation is timed too);
- has the creator commit an Update with a path, and the joiner process that commit:
  once right after creation (parents blank: the path is sealed to O(n) leaves) and
  once "warm", after the members at leaves 1, 2, 4, ... have committed paths (the
  creator's copath filled: O(log n), MLS's steady state);
- sends 1 KiB application messages creator -> joiner (encrypt + decrypt per message),
  and reports encryption and decryption alone too;
- reports the joiner's state size serialised and in memory, and the Welcome size
  per new member.

Veil's receivers decode every commit and message from its bytes inside the timed
work, as a real receiver must; the ts-mls driver hands its objects over directly.

RFC 9420 signs every message (§6.1): one Ed25519 signature per send, one
verification per receipt. ``message_ceiling`` times both on this machine in the same
run: no conformant implementation using them can exceed that rate.

ts-mls runs through tests/interop/ts_mls/driver.mjs and is timed inside Node, so the
pipe is not charged to it. A ts-mls case that takes longer than ``--ts-timeout``
seconds is reported as such. ``--output`` rewrites a file with the report after every
case, so a run cut short keeps what it measured. Run it under the shared lock:
``flock /work/coord/heavy.lock .venv/bin/python bench/mls.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from helpers.ts_mls import TsMls, TsMlsError, TsMlsUnavailable, install
from veil.crypto import SystemRandom
from veil.mls.codec import decode
from veil.mls.framing import MLSMessage
from veil.mls.group_state import GroupState, join_from_welcome
from veil.mls.leaf_node import Lifetime
from veil.mls.operations import (
    create_commit,
    create_group,
    encrypt_application,
    new_key_package,
)
from veil.mls.processing import process_message
from veil.mls.proposals import Add
from veil.mls.state_codec import decode_state, encode_state
from veil.mls.suites import suite_by_id
from veil.mls.welcome import Welcome

SUITES = {0xF00D: "xwing-0xF00D", 0x0001: "0x0001"}  # X-Wing, the target suite, first
SIZES = (10, 100, 1_000, 10_000)
QUICK_SIZES = (10, 100)
MESSAGE = bytes(1024)
MESSAGES = 500
# The targets for the X-Wing suite at 10,000 members (milliseconds, msgs/s, bytes).
TARGETS = {
    "commit_update_ms": ("<", 100.0),
    "process_commit_ms": ("<", 50.0),
    "commit_update_warm_ms": ("<", 100.0),
    "process_commit_warm_ms": ("<", 50.0),
    "messages_per_s": (">=", 10_000.0),
    "create_group_ms": ("<", 60_000.0),
    "state_serialised_bytes": ("<", 40 * 2**20),
}
T = TypeVar("T")


def timed(work: Callable[[], T]) -> tuple[float, T]:
    """Milliseconds ``work`` took, and its result."""
    start = time.perf_counter()
    value = work()
    return (time.perf_counter() - start) * 1000, value


def received(receiver: GroupState, wire: bytes) -> GroupState:
    """``receiver`` after decoding and processing ``wire``, as a receiver gets it."""
    return process_message(receiver, decode(wire, MLSMessage.decode)).state


def message_rates(
    sender: GroupState, receiver: GroupState, count: int
) -> tuple[dict[str, float], GroupState, GroupState]:
    """Round trips (encrypt, encode, decode, decrypt) of a 1 KiB message per second, and
    the rates of the sending and the receiving halves alone."""
    rng = SystemRandom()
    start = time.perf_counter()
    for _ in range(count):
        message, sender = encrypt_application(sender, MESSAGE, rng)
        receiver = received(receiver, message.to_bytes())
    round_trips = count / (time.perf_counter() - start)
    wires = []
    start = time.perf_counter()
    for _ in range(count):
        message, sender = encrypt_application(sender, MESSAGE, rng)
        wires.append(message.to_bytes())
    sent = time.perf_counter() - start
    start = time.perf_counter()
    for wire in wires:
        receiver = received(receiver, wire)
    got = time.perf_counter() - start
    rates = {"messages_per_s": round_trips, "encrypt_per_s": count / sent}
    return {**rates, "decrypt_per_s": count / got}, sender, receiver


def message_ceiling(count: int = 2000) -> dict[str, Any]:
    """The Ed25519 sign and verify RFC 9420 needs per message, timed alone (best of 5
    batches), and the round-trip rate they alone allow on one core."""
    key = Ed25519PrivateKey.generate()
    public, content = key.public_key(), bytes(1100)  # a 1 KiB message's signed content
    signature = key.sign(content)

    def best_us(work: Callable[[], object]) -> float:
        return min(timed(lambda: [work() for _ in range(count)])[0] for _ in range(5)) / count

    sign_us = best_us(lambda: key.sign(content)) * 1000
    verify_us = best_us(lambda: public.verify(signature, content)) * 1000
    return {
        "ed25519_sign_us": sign_us,
        "ed25519_verify_us": verify_us,
        "round_trips_per_s_signatures_alone": 1e6 / (sign_us + verify_us),
        "why": "RFC 9420 §6.1 signs every message (FramedContentTBS) and the receiver "
        "verifies it; one sign plus one verify per round trip bound messages_per_s on "
        "one core, before any AEAD, key derivation or encoding",
    }


def in_memory_bytes(serialised: bytes) -> int:
    """Python heap a restored state occupies (tracemalloc over ``decode_state``)."""
    tracemalloc.start()
    try:
        state = decode_state(serialised)
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del state
    return current


def warm_leaves(size: int) -> list[int]:
    """The leftmost leaf under each copath node of leaf 0 (leaves 1, 2, 4, ...), except
    the joiner's last leaf: once each has committed a path, the creator's copath is
    populated and its next commit costs O(log n), MLS's steady state. A group made in
    one commit has blank parents, so its first commits encrypt to O(n) leaves."""
    return [1 << level for level in range(size.bit_length()) if (1 << level) < size - 1]


def warm_up(
    creator: GroupState, joiner: GroupState, warm: dict[int, GroupState], rng: SystemRandom
) -> tuple[GroupState, GroupState]:
    """Each warm member commits an Update with a path; everyone else follows."""
    for leaf in list(warm):
        result = create_commit(warm[leaf], rng)
        creator = process_message(creator, result.message).state
        joiner = process_message(joiner, result.message).state
        for other, state in list(warm.items()):
            warm[other] = (
                result.state if other == leaf else process_message(state, result.message).state
            )
    return creator, joiner


def veil_case(suite_id: int, size: int, messages: int) -> dict[str, float]:
    """Veil's figures for one suite and group size."""
    suite, rng = suite_by_id(suite_id), SystemRandom()
    now = int(time.time())
    lifetime = Lifetime(now - 3600, now + 30 * 86400)
    packages = [new_key_package(suite, rng, lifetime) for _ in range(size - 1)]
    creator = create_group(suite, b"bench-%d-%d" % (suite_id, size), rng, lifetime)
    adds = tuple(Add(package) for package, _ in packages)
    create_ms, created = timed(lambda: create_commit(creator, rng, by_value=adds))
    assert created.welcome is not None and isinstance(created.welcome.body, Welcome)
    welcome, (package, keys) = created.welcome.body, packages[-1]
    join_ms, joined = timed(lambda: join_from_welcome(welcome, package, keys))
    warm = {leaf: join_from_welcome(welcome, *packages[leaf - 1]) for leaf in warm_leaves(size)}
    commit_ms, updated = timed(lambda: create_commit(created.state, rng))
    wire = updated.message.to_bytes()
    process_ms, processed = timed(lambda: received(joined, wire))
    assert processed.epoch_authenticator == updated.state.epoch_authenticator
    warm = {leaf: process_message(state, updated.message).state for leaf, state in warm.items()}
    sender, receiver = warm_up(updated.state, processed, warm, rng)
    warm_commit_ms, warm_updated = timed(lambda: create_commit(sender, rng))
    warm_wire = warm_updated.message.to_bytes()
    warm_process_ms, receiver = timed(lambda: received(receiver, warm_wire))
    sender = warm_updated.state
    assert sender.epoch_authenticator == receiver.epoch_authenticator
    rates, sender, receiver = message_rates(sender, receiver, messages)
    serialised = encode_state(receiver)
    welcome_bytes = len(created.welcome.to_bytes())
    return {
        "create_group_ms": create_ms,
        "join_ms": join_ms,
        "commit_update_ms": commit_ms,
        "process_commit_ms": process_ms,
        "commit_update_warm_ms": warm_commit_ms,
        "process_commit_warm_ms": warm_process_ms,
        **rates,
        "state_serialised_bytes": len(serialised),
        "state_in_memory_bytes": in_memory_bytes(serialised),
        "welcome_bytes": welcome_bytes,
        "welcome_bytes_per_member": welcome_bytes / max(1, size - 1),
    }


def ts_mls_case(
    folder: Path | None, suite_id: int, size: int, messages: int, timeout_s: float
) -> dict[str, Any]:
    """ts-mls's figures for one case, in a fresh Node process (killed on timeout)."""
    if folder is None:
        return {"error": "ts-mls not run"}
    with TsMls(folder) as driver:
        try:
            return driver.bench(suite_id, size, messages, timeout_s)
        except (TimeoutError, TsMlsError) as error:
            return {"error": str(error).splitlines()[0]}


def versus(veil: dict[str, float], ts_mls: dict[str, Any]) -> dict[str, bool]:
    """For each shared figure: is Veil better (faster, higher rate, or smaller)?"""
    if "error" in ts_mls:
        return {}
    higher_is_better = {"messages_per_s"}
    return {
        key: (veil[key] > ts_mls[key]) if key in higher_is_better else (veil[key] < ts_mls[key])
        for key in veil
        if key in ts_mls
    }


def target_check(figures: dict[str, float]) -> dict[str, dict[str, Any]]:
    """The X-Wing figures against the issue's targets."""
    checks = {}
    for key, (op, bound) in TARGETS.items():
        value = figures[key]
        met = value < bound if op == "<" else value >= bound
        checks[key] = {"value": value, "target": f"{op} {bound:g}", "met": met}
    return checks


def main() -> None:
    """Run every case and print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="groups of 10 and 100 only")
    parser.add_argument("--sizes", type=int, nargs="*", help="group sizes to run")
    parser.add_argument("--messages", type=int, default=MESSAGES)
    parser.add_argument("--ts-timeout", type=float, default=900.0, help="seconds per case")
    parser.add_argument("--no-ts-mls", action="store_true", help="measure Veil only")
    parser.add_argument(
        "--suites", nargs="*", choices=list(SUITES.values()), help="suites to run, in order"
    )
    parser.add_argument("--output", type=Path, help="rewrite this file after every case")
    args = parser.parse_args()
    sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)
    folder: Path | None = None
    ts_mls_status = "not requested"
    if not args.no_ts_mls:
        try:
            folder, ts_mls_status = install(), "ok"
        except TsMlsUnavailable as reason:
            ts_mls_status = str(reason)
    report: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "ts_mls": ts_mls_status,
        "message_ceiling": message_ceiling(),
        "suites": {},
    }
    names = args.suites or list(SUITES.values())
    for suite_name in names:
        suite_id = next(key for key, name in SUITES.items() if name == suite_name)
        cases = report["suites"].setdefault(suite_name, {})
        for size in sizes:
            veil = veil_case(suite_id, size, args.messages)
            cases[str(size)] = {"veil": veil, "ts_mls": {"error": "running"}}
            save(report, args.output)
            theirs = ts_mls_case(folder, suite_id, size, args.messages, args.ts_timeout)
            cases[str(size)] = {"veil": veil, "ts_mls": theirs, "veil_better": versus(veil, theirs)}
            save(report, args.output)
            print(f"done {suite_name} {size}", file=sys.stderr, flush=True)
    if SUITES[0xF00D] in names:
        largest = report["suites"][SUITES[0xF00D]][str(max(sizes))]["veil"]
        report["targets_xwing_largest_group"] = {"size": max(sizes), **target_check(largest)}
    report["load_average_at_end"] = os.getloadavg()
    save(report, args.output)
    print(json.dumps(report, indent=2))


def save(report: dict[str, Any], path: Path | None) -> None:
    """Rewrite ``path`` with the report so far (atomically), if one was given."""
    if path is not None:
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(report, indent=2) + "\n")
        partial.replace(path)


if __name__ == "__main__":
    main()
