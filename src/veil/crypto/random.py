"""Random sources that protocol code receives instead of reaching for globals.

Protocol state machines never call ``os.urandom`` themselves: they are handed a
:class:`RandomSource`. Production code passes :class:`SystemRandom`; tests and the
known-answer vectors pass :class:`DeterministicRandom` so every byte is reproducible.
"""

from __future__ import annotations

import secrets
from typing import Protocol

from veil.crypto.primitives import hmac_sha256

__all__ = ["DeterministicRandom", "RandomSource", "SystemRandom"]


class RandomSource(Protocol):
    """Anything that can produce uniformly random bytes."""

    def random_bytes(self, length: int) -> bytes:
        """Return ``length`` random bytes."""
        ...


class SystemRandom:
    """The operating system's CSPRNG: the only source production code uses."""

    def random_bytes(self, length: int) -> bytes:
        """Return ``length`` bytes from the OS CSPRNG."""
        return secrets.token_bytes(length)


class DeterministicRandom:
    """A reproducible byte stream for tests and vectors. Never use it for real keys.

    Output block ``i`` is ``HMAC-SHA256(seed, "veil-test-drbg" || i)``, so another
    implementation can regenerate exactly the bytes our vectors were made with.
    """

    _LABEL = b"veil-test-drbg"

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._counter = 0
        self._pending = b""

    def random_bytes(self, length: int) -> bytes:
        """Return the next ``length`` bytes of the stream."""
        while len(self._pending) < length:
            block = hmac_sha256(self._seed, self._LABEL + self._counter.to_bytes(8, "big"))
            self._pending += block
            self._counter += 1
        out, self._pending = self._pending[:length], self._pending[length:]
        return out
