"""Two connected in-process Messengers over a fake relay, for the service's unit tests."""

from __future__ import annotations

from pathlib import Path

from helpers.fake_relay import FakeRelay
from veil.chat.app import Messenger
from veil.chat.store import KdfParams

__all__ = ["FAST", "RELAY", "messenger_pair"]

RELAY = "veil://" + "A" * 43 + "@relay.example"
FAST = KdfParams(iterations=1, lanes=1, memory_kib=64)


async def messenger_pair(home: Path, relay: FakeRelay | None = None) -> tuple[Messenger, Messenger]:
    """Alice and Bob under ``home``, connected through ``relay`` (a new one by default)."""
    shared = relay or FakeRelay()
    alice, bob = (
        Messenger(
            Messenger.create(home / name, "pw", name, [RELAY], kdf=FAST), relays=shared, pq=False
        )
        for name in ("alice", "bob")
    )
    await bob.connect(await alice.invite())
    await alice.receive(idle=0.05, on_incoming=lambda _: None)
    await bob.receive(idle=0.05, on_incoming=lambda _: None)
    return alice, bob
