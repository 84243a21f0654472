"""Load that survives relay crashes: senders and a subscriber that reconnect.

Each queue has one send in flight at a time. A send that fails because the relay
died has an unknown outcome (it may or may not have been stored), so it counts as
attempted but not acknowledged; a refusal (quota, full disk) is counted by kind.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from fault_support.ledger import Ledger, numbered_body
from veil.crypto import SystemRandom, X25519KeyPair
from veil.relay.client.events import MessageReceived, RecipientQueue, SenderQueue
from veil.relay.client.relay_client import RelayClient
from veil.relay.protocol.address import RelayAddress
from veil.relay.protocol.errors import CommandError, ConnectionLost

RETRY_S = 0.05
QUIET_S = 3.0


@dataclass
class Queues:
    """Recipient and sender ends of the scenario's queues."""

    recipients: list[RecipientQueue]
    senders: list[SenderQueue]


async def make_queues(address: RelayAddress, count: int) -> Queues:
    recipients, senders = [], []
    async with await RelayClient.connect(address, reconnect=None) as client:
        for _ in range(count):
            queue = await client.create_queue()
            sender = SenderQueue(queue.sender_id, X25519KeyPair.generate(SystemRandom()))
            await client.secure_queue(queue, sender.auth.public)
            recipients.append(queue)
            senders.append(sender)
    return Queues(recipients, senders)


async def _connect(address: RelayAddress) -> RelayClient:
    """Connect, retrying while the relay is down or restarting."""
    while True:
        try:
            return await RelayClient.connect(address, reconnect=None)
        except (OSError, ConnectionLost):
            await asyncio.sleep(RETRY_S)


class Sender:
    """Sends numbered bodies on every queue until stopped, across relay crashes."""

    def __init__(self, address: RelayAddress, queues: Queues, ledger: Ledger) -> None:
        self._address, self._queues, self._ledger = address, queues, ledger
        self._next = [0] * len(queues.senders)
        self.running = True

    async def run(self) -> None:
        while self.running:
            client = await _connect(self._address)
            try:
                await asyncio.gather(
                    *(self._send_on(client, index) for index in range(len(self._next)))
                )
            except (ConnectionLost, OSError):
                pass
            finally:
                await client.close()

    async def _send_on(self, client: RelayClient, index: int) -> None:
        while self.running:
            # A fresh number for every attempt: a send cut off by a crash may have been
            # stored, so repeating its body would look like a duplicate delivery.
            body = numbered_body(index, self._next[index])
            self._next[index] += 1
            self._ledger.attempted.add(body)
            try:
                await client.send(self._queues.senders[index], body)
            except CommandError as refusal:  # quota, full disk: explicit, so nothing is lost
                self._ledger.refused_sends[type(refusal).__name__] += 1
                await asyncio.sleep(RETRY_S)
                continue
            self._ledger.acknowledged_sends.add(body)


class Subscriber:
    """Receives and acknowledges every message, resubscribing after each crash."""

    def __init__(self, address: RelayAddress, queues: Queues, ledger: Ledger) -> None:
        self._address, self._queues, self._ledger = address, queues, ledger
        self.last_delivery = 0.0

    async def run(self) -> None:
        while True:
            client = await _connect(self._address)
            try:
                await client.subscribe_all(self._queues.recipients)
                await self._receive(client)
            except (ConnectionLost, OSError):
                pass
            finally:
                await client.close()

    async def _receive(self, client: RelayClient) -> None:
        events = client.events()
        # One pending read at a time: cancelling it on a timeout would close the iterator.
        next_event = asyncio.ensure_future(anext(events))
        try:
            while client.connected:
                done, _ = await asyncio.wait({next_event}, timeout=0.5)
                if not done:
                    continue
                event = next_event.result()
                next_event = asyncio.ensure_future(anext(events))
                if isinstance(event, MessageReceived):
                    await self._deliver(client, event)
        finally:
            next_event.cancel()
        raise ConnectionLost("relay connection closed")

    async def _deliver(self, client: RelayClient, event: MessageReceived) -> None:
        self._ledger.delivered(event.body)
        self.last_delivery = asyncio.get_running_loop().time()
        await client.acknowledge(event)
        self._ledger.acknowledged_deliveries.add(event.body)

    async def until_quiet(self) -> None:
        """Return once nothing has been delivered for a while."""
        loop = asyncio.get_running_loop()
        self.last_delivery = max(self.last_delivery, loop.time())
        while loop.time() - self.last_delivery < QUIET_S:
            await asyncio.sleep(0.2)


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
