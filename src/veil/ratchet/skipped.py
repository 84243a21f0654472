"""Message keys of messages that have not arrived yet, bounded and evicted oldest first.

Keys are grouped by the chain they belong to: the chain's header key when header
encryption is on (the receiver must find the key that opens a header), the
sender's ratchet public key otherwise. Within a chain and across chains,
insertion order is age order, so eviction pops from the front.
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.ratchet.kdf import KEY_SIZE
from veil.wire import DecodeError, Reader, Writer

__all__ = ["SkipLimits", "SkippedKey", "SkippedKeys"]

_RECORD_SIZE = 2 * KEY_SIZE + 4

SkippedKey = tuple[bytes, int, bytes]
"""``(chain id, message number, message key)``."""


@dataclass(frozen=True, slots=True)
class SkipLimits:
    """Bounds on skipped message keys, so a peer cannot make us derive or store
    without limit. Signal uses 25,000 / 2,000; Veil's defaults are smaller because
    its queues hold far fewer messages."""

    max_skip: int = 1000
    """Most message keys one incoming message may make us derive."""
    max_per_chain: int = 1000
    """Most keys stored for one chain; older ones are evicted."""
    max_total: int = 2000
    """Most keys stored overall; the oldest are evicted."""

    def __post_init__(self) -> None:
        if min(self.max_skip, self.max_per_chain, self.max_total) < 1:
            raise ValueError("skip limits must be positive")
        if self.max_per_chain > self.max_total:
            raise ValueError("max_per_chain cannot exceed max_total")


class SkippedKeys:
    """The store itself: ``chain id -> message number -> message key``."""

    __slots__ = ("_chains", "_total")

    def __init__(self) -> None:
        self._chains: dict[bytes, dict[int, bytes]] = {}
        self._total = 0

    def __len__(self) -> int:
        return self._total

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SkippedKeys):
            return NotImplemented
        return list(self._items()) == list(other._items())

    __hash__ = None  # type: ignore[assignment]

    def _items(self) -> list[SkippedKey]:
        return [(c, n, k) for c, keys in self._chains.items() for n, k in keys.items()]

    def chain_ids(self) -> list[bytes]:
        """Every chain that still has keys, oldest first."""
        return list(self._chains)

    def lookup(self, chain_id: bytes, message_number: int) -> bytes | None:
        """Return the stored key, or ``None``; the store is not changed."""
        keys = self._chains.get(chain_id)
        return None if keys is None else keys.get(message_number)

    def commit(
        self,
        added: list[SkippedKey],
        consumed: tuple[bytes, int] | None,
        limits: SkipLimits,
    ) -> None:
        """Apply one decryption's changes, then evict down to ``limits``."""
        if consumed is not None:
            self._remove(*consumed)
        for chain_id, message_number, message_key in added:
            self._chains.setdefault(chain_id, {})[message_number] = message_key
            self._total += 1
        self.enforce(limits, {chain_id for chain_id, _, _ in added})

    def enforce(self, limits: SkipLimits, touched: set[bytes] | None = None) -> None:
        """Evict oldest keys until every bound in ``limits`` holds."""
        for chain_id in self._chains if touched is None else touched:
            keys = self._chains[chain_id]
            while len(keys) > limits.max_per_chain:
                self._remove(chain_id, next(iter(keys)))
        while self._total > limits.max_total:
            oldest_chain = next(iter(self._chains))
            self._remove(oldest_chain, next(iter(self._chains[oldest_chain])))

    def _remove(self, chain_id: bytes, message_number: int) -> None:
        keys = self._chains[chain_id]
        del keys[message_number]
        self._total -= 1
        if not keys:
            del self._chains[chain_id]

    def encode(self, writer: Writer) -> None:
        """Append ``u32 count`` then ``chain id (32) || u32 number || key (32)`` each."""
        writer.u32(self._total)
        for chain_id, message_number, message_key in self._items():
            writer.raw(chain_id).u32(message_number).raw(message_key)

    @classmethod
    def decode(cls, reader: Reader, limits: SkipLimits) -> SkippedKeys:
        """Read what :meth:`encode` wrote, trimmed to ``limits``.

        Raises the wire layer's ``DecodeError`` if the count promises more records
        than the input holds (callers translate it).
        """
        store = cls()
        count = reader.u32()
        if count * _RECORD_SIZE > reader.remaining:
            raise DecodeError(f"{count} skipped keys do not fit in {reader.remaining} bytes")
        for _ in range(count):
            chain_id, number, key = reader.raw(KEY_SIZE), reader.u32(), reader.raw(KEY_SIZE)
            store._chains.setdefault(chain_id, {})[number] = key
        store._total = sum(len(keys) for keys in store._chains.values())
        store.enforce(limits)
        return store
