"""Veil's relay as measured beside its peers: the same lanes, producers and window.

Producer ``p`` owns one secured queue of lane ``p % lanes`` and sends through that
lane's sender connection; the lane's subscriber connection receives and
acknowledges. The relay answers OK only after the message is fsynced.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from relay_support.load import Lane, consume, open_lanes
from veil.relay.protocol.address import RelayAddress
from veil.relay.protocol.errors import QuotaExceeded

QUOTA_RETRY_S = 0.002


class VeilSession:
    """``lanes`` sender and subscriber connections, ``producers`` queues in all."""

    def __init__(self, address: RelayAddress, lanes: int, producers: int) -> None:
        self._address, self.lanes, self.producers = address, lanes, producers
        self._lanes: list[Lane] = []

    async def open(self) -> None:
        self._lanes = await open_lanes(self._address, self.lanes, self.producers // self.lanes)

    async def publish(self, producer: int, payload: bytes) -> None:
        lane = self._lanes[producer % self.lanes]
        _, sender = lane.queues[producer // self.lanes]
        while True:
            try:
                await lane.sender.send(sender, payload)
            except QuotaExceeded:
                await asyncio.sleep(QUOTA_RETRY_S)  # the subscriber is behind
            else:
                return

    def start_consuming(self, on_payload: Callable[[bytes], None]) -> None:
        for lane in self._lanes:
            lane.tasks.append(
                asyncio.create_task(consume(lane.recipient, lambda event: on_payload(event.body)))
            )

    async def close(self) -> None:
        for lane in self._lanes:
            await lane.close()
