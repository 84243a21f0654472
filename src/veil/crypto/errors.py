"""Errors of the crypto layer (codes 1xx)."""

from __future__ import annotations

from typing import ClassVar

from veil.errors import VeilError

__all__ = ["AuthenticationFailed", "CryptoError", "InvalidKey"]


class CryptoError(VeilError):
    """A cryptographic operation failed."""

    code: ClassVar[int] = 100


class AuthenticationFailed(CryptoError):
    """An AEAD tag or MAC did not verify: the data was forged or corrupted."""

    code: ClassVar[int] = 101


class InvalidKey(CryptoError):
    """Key bytes have the wrong length or do not decode to a valid key."""

    code: ClassVar[int] = 102
