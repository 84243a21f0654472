"""Groups benchmark: real MLS group entries through a real relay process to every
member, and each member's cost of processing them. Prints one JSON object.

    python bench/groups.py [--members 1000] [--connections 50] [--posts 20]
                           [--channel-readers 10000] [--channel-connections 100]
                           [--sustained-members 100] [--seconds 10] [--quick]

The relay runs as a real ``veil-relay start`` process (SQLite, durable answers); this
process is the load generator. Every post is a real group entry: an MLS application
message of a full-size frame (the largest plaintext whose entry fits one relay post)
sealed by the group's owner (``bench/groups_core.py``), in the relay adapter's part
header. Readers are real ``RelayClient`` connections (TLS, the relay's per-reader
AES-GCM), as in ``bench/group_log.py``.

A member's whole path is the relay delivering the entry to it, then its client
processing it (MLS decryption or commit, the group's policy checks). The machine has
2 cores and one load generator, so a thousand members cannot each process in parallel
here as they would on their own devices: the figures say what is measured apart.

- ``fanout_group`` (a): one post to every member of a ``members``-member group, readers
  spread over ``connections`` connections. ``delivery_p50_s``: post to the last
  reader's receipt. ``member_process_p50_s``: one member's processing of the same
  entries (members who joined from the Welcome, timed one by one).
  ``end_to_end_p50_s`` is their sum [target p50 < 1 s].
- ``fanout_channel`` (b): the same for a ``channel_readers``-reader channel (readers
  only, one poster) [target < 2 s].
- ``sustained`` (c): a ``sustained_members``-member group, posts kept in flight for
  ``seconds``: entries delivered to every member per second [>= 200 posts/s, 20,000
  deliveries/s], and how many posts per second one member's client processes.
- ``commit`` (d): the owner commits a key update (a commit with a path) in the
  ``sustained_members`` group: relay delivery to every member, and one member applying
  it; the first commit after the group's creation (the tree's parents are blank: the
  path is sealed to every leaf) and the ones after (``warm``) [target < 1 s].
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from group_log import Readers, make_log, per_core, percentile
from groups_core import (
    Group,
    apply_commit,
    build,
    commit_update,
    handle,
    largest_plaintext,
    parts,
    seal,
)
from relay_support.proc import CpuMeter, RelayProcess
from veil.relay.client.relay_client import RelayClient

JOINED = 3
"""Members who join from the Welcome and whose processing is timed."""
COMMITS = 5
MEASURED = {
    "fanout": "delivery: from the post to the last of `readers` real TLS readers (over "
    "`connections` connections to a relay process) receiving it; member_process: one "
    "member's client processing each entry (part, MLS decryption, policy checks), timed "
    "apart on members that joined from the Welcome, since members process in parallel "
    "on their own devices and this machine has 2 cores; end_to_end = the two added",
    "commit": "the owner's key update (a commit with a path, in parts) posted to the "
    "relay: delivery to every member's reader, and one member applying it (timed apart); "
    "end_to_end = the two added",
    "sustained": "one load-generator process posts from 32 lanes and takes every "
    "reader's deliveries (TLS, then AES-GCM per reader): when load_cpu_percent exceeds "
    "relay_cpu_percent the rate is this process's limit, and the relay's own figures are "
    "relay_cpu_us_per_delivery and the projection per relay core; "
    "one_member_processes_posts_per_s is one member's client processing the same entries",
}


def one_part(entry: bytes) -> bytes:
    """A message entry's single relay post (a full-size frame fits one)."""
    (body,) = parts(entry)
    return body


def verdict(value: float, target: float, higher: bool = False) -> dict[str, Any]:
    """A figure beside its target."""
    met = value >= target if higher else value < target
    return {"value": round(value, 4), "target": f"{'>=' if higher else '<'} {target:g}", "met": met}


async def fanout(
    relay: RelayProcess, group: Group, readers: int, connections: int, posts: int, target: float
) -> dict[str, Any]:
    """Posts delivered to ``readers`` readers, and the sampled members' processing."""
    plaintext = bytes(largest_plaintext(group.owner))
    bodies = [one_part(seal(group.owner, plaintext)) for _ in range(posts)]
    process = []
    for body in bodies:
        seq = group.next_seq()
        process += [handle(member, seq, body) for member in group.joined]
    async with await RelayClient.connect(relay.address) as admin_client:
        made = time.perf_counter()
        writer, log_readers = await make_log(admin_client, readers)
        setup = time.perf_counter() - made
        audience = Readers()
        await audience.open(relay.address, log_readers, connections)
        meter = CpuMeter(relay.pid)
        meter.start()
        latencies = []
        for body in bodies:
            started = time.perf_counter()
            seq = await admin_client.logs.post(writer, body)
            latencies.append(await audience.wait_for(seq, readers) - started)
        meter.stop()
        await audience.close()
    delivery, processing = percentile(latencies, 0.5), percentile(process, 0.5)
    return {
        "measured": MEASURED["fanout"],
        "members": group.size,
        "readers": readers,
        "connections": connections,
        "posts": posts,
        "post_bytes": len(bodies[0]),
        "plaintext_bytes": len(plaintext),
        "delivery_p50_s": round(delivery, 4),
        "delivery_p99_s": round(percentile(latencies, 0.99), 4),
        "member_process_p50_s": round(processing, 5),
        "member_process_max_s": round(max(process), 5),
        "end_to_end_p50_s": verdict(delivery + processing, target),
        "mls_group_build_s": round(group.build_seconds, 1),
        "readers_setup_s": round(setup, 1),
        **meter.utilisation(),
    }


async def sustained(relay: RelayProcess, group: Group, seconds: float) -> dict[str, Any]:
    """Posts kept in flight to every member; one member's processing rate apart."""
    plaintext = bytes(largest_plaintext(group.owner))
    pool = [one_part(seal(group.owner, plaintext)) for _ in range(400)]
    member = group.joined[0]
    started = time.perf_counter()
    for body in pool:
        handle(member, group.next_seq(), body)
    member_rate = len(pool) / (time.perf_counter() - started)
    members = group.size
    async with await RelayClient.connect(relay.address) as admin_client:
        writer, readers = await make_log(admin_client, members)
        audience = Readers()
        await audience.open(relay.address, readers, max(1, members // 10))
        posters = [await RelayClient.connect(relay.address) for _ in range(4)]
        deadline = time.perf_counter() + seconds
        posted: list[int] = []

        async def keep_posting(client: RelayClient, offset: int) -> None:
            index = offset
            while time.perf_counter() < deadline:
                posted.append(await client.logs.post(writer, pool[index % len(pool)]))
                index += 32

        meter = CpuMeter(relay.pid)
        meter.start()
        began = time.perf_counter()
        lanes = [poster for poster in posters for _ in range(8)]
        await asyncio.gather(*(keep_posting(c, i) for i, c in enumerate(lanes)))
        await audience.wait_for(max(posted), members)
        elapsed = time.perf_counter() - began
        meter.stop()
        everyone = [s for s in posted if len(audience.arrivals[s]) >= members]
        await audience.close()
        await asyncio.gather(*(client.close() for client in posters))
    rate = len(everyone) / elapsed
    return {
        "measured": MEASURED["sustained"],
        "members": members,
        "post_bytes": len(pool[0]),
        "posts": len(posted),
        "posts_delivered_to_all_per_s": verdict(rate, 200, higher=True),
        "deliveries_per_s": verdict(rate * members, 20_000, higher=True),
        "one_member_processes_posts_per_s": verdict(member_rate, 200, higher=True),
        **meter.utilisation(),
        **per_core(meter.relay_seconds, len(everyone) * members),
    }


async def commits(relay: RelayProcess, group: Group) -> dict[str, Any]:
    """The owner's key updates delivered to every member and applied by one."""
    async with await RelayClient.connect(relay.address) as admin_client:
        writer, readers = await make_log(admin_client, group.size)
        audience = Readers()
        await audience.open(relay.address, readers, max(1, group.size // 10))
        rows = []
        for _ in range(COMMITS):
            entry, make_s = commit_update(group)
            applied = [apply_commit(member, group.seq, entry) for member in group.joined]
            started = time.perf_counter()
            for body in parts(entry):  # a commit sealed to every leaf takes several
                seq = await admin_client.logs.post(writer, body)
            delivered = await audience.wait_for(seq, group.size) - started
            rows.append((make_s, delivered, percentile(applied, 0.5), len(entry)))
        await audience.close()
    first, warm = rows[0], rows[1:]
    warm_total = percentile([d + a for _, d, a, _ in warm], 0.5)
    return {
        "measured": MEASURED["commit"],
        "members": group.size,
        "first_commit": {
            "commit_bytes": first[3],
            "make_s": round(first[0], 4),
            "delivery_s": round(first[1], 4),
            "member_apply_s": round(first[2], 4),
            "end_to_end_s": verdict(first[1] + first[2], 1.0),
        },
        "warm_commits": {
            "count": len(warm),
            "make_p50_s": round(percentile([m for m, _, _, _ in warm], 0.5), 4),
            "delivery_p50_s": round(percentile([d for _, d, _, _ in warm], 0.5), 4),
            "member_apply_p50_s": round(percentile([a for _, _, a, _ in warm], 0.5), 4),
            "end_to_end_p50_s": verdict(warm_total, 1.0),
        },
    }


async def main(options: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"loadavg_1min_at_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as directory:
        relay = RelayProcess.init(Path(directory) / "relay")
        await relay.start()
        try:
            group = await build(options.members, JOINED)
            result["fanout_group"] = await fanout(
                relay, group, options.members, options.connections, options.posts, 1.0
            )
            del group
            channel = await build(options.channel_readers, JOINED)
            result["fanout_channel"] = await fanout(
                relay,
                channel,
                options.channel_readers,
                options.channel_connections,
                options.posts,
                2.0,
            )
            del channel
            team = await build(options.sustained_members, JOINED)
            result["commit"] = await commits(relay, team)
            result["sustained"] = await sustained(relay, team, options.seconds)
        finally:
            await relay.stop()
    return {**result, "loadavg_1min_at_end": os.getloadavg()[0], "cpu_count": os.cpu_count()}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--posts", type=int, default=20)
    parser.add_argument("--channel-readers", type=int, default=10_000)
    parser.add_argument("--channel-connections", type=int, default=100)
    parser.add_argument("--sustained-members", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    options = parser.parse_args(argv)
    if options.quick:
        options.members, options.connections, options.posts = 50, 5, 3
        options.channel_readers, options.channel_connections = 100, 5
        options.sustained_members, options.seconds = 10, 2.0
    return options


if __name__ == "__main__":
    figures = asyncio.run(main(parse(sys.argv[1:])))
    print(json.dumps(figures, indent=2))
