"""A receiving ``veil`` client killed with ``kill -9`` again and again, mid-receive.

Alice sends numbered messages through the CLI; each cycle starts Bob's
``veil receive`` and kills it after a random moment. At the end Bob receives
everything left, and his history must hold every message exactly once, in order.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from helpers.relay_process import RelayProcess
from helpers.veil_cli import VeilUser, connect, kill

MESSAGES_PER_CYCLE = 5
RECEIVE_BEFORE_KILL_S = (0.3, 1.5)


async def client_kill_cycles(data: Path, cycles: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    relay = RelayProcess.init(data / "relay")
    await relay.start()
    try:
        alice, bob = VeilUser(data / "alice", "Alice"), VeilUser(data / "bob", "Bob")
        await alice.init(relay)
        await bob.init(relay)
        await connect(alice, bob)
        sent: list[str] = []
        for cycle in range(cycles):
            texts = [f"c{cycle}-m{n}" for n in range(MESSAGES_PER_CYCLE)]
            await alice.run("send", "Bob", *texts)
            sent.extend(texts)
            receiver = await bob.start("receive", "--wait", "5")
            await asyncio.sleep(rng.uniform(*RECEIVE_BEFORE_KILL_S))
            kill(receiver)
            await receiver.wait()
        await bob.receive(3.0)
        received = [m["text"] for m in await bob.history("Alice") if m["direction"] == "received"]
    finally:
        await relay.stop()
    return {
        "cycles": cycles,
        "sent": len(sent),
        "lost": len(set(sent) - set(received)),
        "processed_twice": len(received) - len(set(received)),
        "in_order": received == sent,
    }
