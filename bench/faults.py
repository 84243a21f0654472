"""Fault harness: crashes, a full disk and a torn store, at full size; 0 lost, 0 duplicated.

Scenarios (each prints counts; ``lost``, ``duplicates_after_ack``/``processed_twice``
and ``garbage`` must be 0):

- ``relay_kill``: a relay under continuous full-size load is killed with ``kill -9``
  and restarted ``--cycles`` times; senders and a subscriber reconnect each time.
- ``client_kill``: a receiving ``veil`` client is killed mid-receive ``--cycles`` times.
- ``full_disk``: the relay's data on a small tmpfs fills up; senders must get an
  explicit error, and the relay must accept sends again once space is freed.
- ``torn_store``: after a crash under load the store's tail is truncated or flipped;
  the relay must refuse to start with a clear log line or start and serve no garbage.
- ``soak``: a steady rate with the relay's RSS sampled every second.

Full size (not in CI): ``python bench/faults.py`` (1,000 cycles each, a 1-hour soak).
CI runs ``--small`` (20 cycles, a 2-minute soak) through tests/e2e/relay/test_faults.py.
Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fault_support.client_cycles import client_kill_cycles
from fault_support.scenarios import full_disk, relay_kill_cycles, soak, torn_store

SCENARIOS = ("relay_kill", "client_kill", "full_disk", "torn_store", "soak")


def progress(message: str) -> None:
    print(f"[bench/faults] {message}", file=sys.stderr, flush=True)


async def run(options: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="veil-faults-") as scratch:
        data = Path(scratch)
        runs = {
            "relay_kill": lambda: relay_kill_cycles(data / "rk", options.cycles, options.seed),
            "client_kill": lambda: client_kill_cycles(data / "ck", options.cycles, options.seed),
            "full_disk": lambda: full_disk(data / "fd", options.disk_mib),
            "torn_store": lambda: torn_store(data / "ts", options.seed),
            "soak": lambda: soak(data / "so", options.soak_seconds, options.soak_rate),
        }
        for name in options.only or SCENARIOS:
            progress(f"{name} ...")
            report[name] = await runs[name]()
            progress(f"{name}: {json.dumps(report[name])}")
    return report


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=1000, help="kill -9 cycles per scenario")
    parser.add_argument("--soak-seconds", type=float, default=3600.0)
    parser.add_argument("--soak-rate", type=float, default=500.0, help="messages/s in the soak")
    parser.add_argument("--disk-mib", type=int, default=64, help="size of the tmpfs that fills")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", nargs="*", choices=SCENARIOS)
    parser.add_argument("--small", action="store_true", help="CI size: 20 cycles, 2-minute soak")
    options = parser.parse_args()
    if options.small:
        options.cycles, options.soak_seconds, options.soak_rate = 20, 120.0, 200.0
    return options


def main() -> None:
    options = parse_options()
    started = datetime.datetime.now(datetime.UTC)
    report = asyncio.run(run(options))
    report["setup"] = {
        "cycles": options.cycles,
        "soak_seconds": options.soak_seconds,
        "soak_rate": options.soak_rate,
        "body_bytes": 15_360,
        "started": started.isoformat(timespec="seconds"),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
