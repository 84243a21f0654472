"""The plaintext header that sits next to the encrypted database.

It holds what is needed to turn a passphrase into the database key and nothing
secret: a format version, the Argon2id parameters and the salt. It is JSON so an
operator can read it; parsing is strict (exact keys, types and ranges) because a
damaged header must give a clear error, not a wrong key.
"""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from dataclasses import dataclass
from typing import Any

from veil.chat.errors import CorruptStoreHeader, StoreTooNew
from veil.crypto import RandomSource, argon2id

__all__ = [
    "DATABASE_KEY_SIZE",
    "HEADER_FORMAT",
    "HEADER_VERSION",
    "SALT_SIZE",
    "KdfParams",
    "StoreHeader",
]

HEADER_FORMAT = "veil-store-header"
HEADER_VERSION = 1
SALT_SIZE = 16
DATABASE_KEY_SIZE = 32
_MAX_HEADER_BYTES = 4096
_KDF_ALGORITHM = "argon2id"


@dataclass(frozen=True, slots=True)
class KdfParams:
    """Argon2id cost parameters (RFC 9106 names: t, p, m in KiB)."""

    iterations: int = 3
    lanes: int = 4
    memory_kib: int = 65536

    def __post_init__(self) -> None:
        if not 1 <= self.iterations <= 64:
            raise ValueError(f"Argon2id iterations out of range: {self.iterations}")
        if not 1 <= self.lanes <= 64:
            raise ValueError(f"Argon2id lanes out of range: {self.lanes}")
        if not 8 * self.lanes <= self.memory_kib <= 4 * 1024 * 1024:
            raise ValueError(f"Argon2id memory out of range: {self.memory_kib} KiB")


@dataclass(frozen=True, slots=True)
class StoreHeader:
    """Salt and KDF parameters for one store."""

    salt: bytes
    kdf: KdfParams

    @classmethod
    def generate(cls, rng: RandomSource, kdf: KdfParams) -> StoreHeader:
        """A header with a fresh random salt."""
        return cls(rng.random_bytes(SALT_SIZE), kdf)

    def derive_key(self, passphrase: str) -> bytes:
        """Stretch ``passphrase`` (NFC-normalised, UTF-8) into the raw database key."""
        normalised = unicodedata.normalize("NFC", passphrase).encode("utf-8")
        return argon2id(
            normalised,
            self.salt,
            length=DATABASE_KEY_SIZE,
            iterations=self.kdf.iterations,
            lanes=self.kdf.lanes,
            memory_kib=self.kdf.memory_kib,
        )

    def to_bytes(self) -> bytes:
        """Serialise as a small JSON document."""
        document = {
            "format": HEADER_FORMAT,
            "version": HEADER_VERSION,
            "kdf": {
                "algorithm": _KDF_ALGORITHM,
                "iterations": self.kdf.iterations,
                "lanes": self.kdf.lanes,
                "memory_kib": self.kdf.memory_kib,
            },
            "salt": base64.urlsafe_b64encode(self.salt).decode("ascii").rstrip("="),
        }
        return (json.dumps(document, indent=2) + "\n").encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> StoreHeader:
        """Parse :meth:`to_bytes` output; :class:`CorruptStoreHeader` if anything is off."""
        if len(data) > _MAX_HEADER_BYTES:
            raise CorruptStoreHeader(f"header is {len(data)} bytes")
        try:
            document = json.loads(data)
        except ValueError as exc:
            raise CorruptStoreHeader(f"header is not JSON: {exc}") from exc
        _expect_keys(document, {"format", "version", "kdf", "salt"})
        if document["format"] != HEADER_FORMAT:
            raise CorruptStoreHeader("not a Veil store header")
        if document["version"] != HEADER_VERSION:
            raise StoreTooNew(f"store header version {document['version']!r} is unknown")
        return cls(_parse_salt(document["salt"]), _parse_kdf(document["kdf"]))


def _expect_keys(document: Any, keys: set[str]) -> None:
    if not isinstance(document, dict) or set(document) != keys:
        raise CorruptStoreHeader(f"header object must have exactly the keys {sorted(keys)}")


def _parse_kdf(document: Any) -> KdfParams:
    _expect_keys(document, {"algorithm", "iterations", "lanes", "memory_kib"})
    if document["algorithm"] != _KDF_ALGORITHM:
        raise CorruptStoreHeader(f"unknown KDF {document['algorithm']!r}")
    numbers = [document[name] for name in ("iterations", "lanes", "memory_kib")]
    # bool is an int subclass; a header saying "true" is damaged, not one iteration.
    if not all(type(number) is int for number in numbers):
        raise CorruptStoreHeader("KDF parameters must be integers")
    try:
        return KdfParams(*numbers)
    except ValueError as exc:
        raise CorruptStoreHeader(str(exc)) from exc


def _parse_salt(text: Any) -> bytes:
    if not isinstance(text, str) or not text.isascii():
        raise CorruptStoreHeader("salt must be base64url text")
    try:
        salt = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise CorruptStoreHeader(f"bad salt: {exc}") from exc
    if len(salt) != SALT_SIZE:
        raise CorruptStoreHeader(f"salt must be {SALT_SIZE} bytes")
    return salt
