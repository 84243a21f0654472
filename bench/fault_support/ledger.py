"""What the fault harness saw: every send the relay acknowledged, every delivery.

Bodies are numbered and unique, so the ledger can tell a loss (acknowledged by the
relay, never delivered), a duplicate after an acknowledgement (delivered again after
the relay confirmed our ACK) and garbage (delivered but never sent).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

FRAME_BYTES = 15_360  # the agent's real frame: the relay carries nothing smaller


def numbered_body(queue: int, number: int) -> bytes:
    """A full-size body that names its queue and sequence number."""
    label = f"q{queue}-m{number}|".encode()
    return label + bytes(FRAME_BYTES - len(label))


@dataclass
class Ledger:
    """Sends and deliveries of one scenario."""

    attempted: set[bytes] = field(default_factory=set)
    acknowledged_sends: set[bytes] = field(default_factory=set)
    refused_sends: Counter[str] = field(default_factory=Counter)
    deliveries: Counter[bytes] = field(default_factory=Counter)
    acknowledged_deliveries: set[bytes] = field(default_factory=set)
    duplicates_after_ack: int = 0
    garbage: int = 0

    def delivered(self, body: bytes) -> None:
        if body in self.acknowledged_deliveries:
            self.duplicates_after_ack += 1
        if body not in self.attempted:
            self.garbage += 1
        self.deliveries[body] += 1

    def summary(self) -> dict[str, Any]:
        """Counts for the JSON report; ``lost`` must be 0 in every scenario."""
        lost = self.acknowledged_sends - set(self.deliveries)
        return {
            "acknowledged_sends": len(self.acknowledged_sends),
            "delivered_distinct": len(self.deliveries),
            "lost": len(lost),
            "duplicates_after_ack": self.duplicates_after_ack,
            "redelivered_before_ack": sum(n - 1 for n in self.deliveries.values() if n > 1),
            "garbage": self.garbage,
            "refused_sends": dict(self.refused_sends),
        }
