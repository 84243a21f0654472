"""Message and header ciphers: the parts of the ratchet a configuration can swap.

Veil's cipher is AES-256-GCM with key and nonce expanded from the message key.
:class:`SignalCbcHmacCipher` is the cipher Signal's specification recommends
(AES-256-CBC then HMAC-SHA256); the ratchet's plain configuration uses it to
interoperate with other Double Ratchet implementations.

Both derive the body's key and nonce from the message key alone, so a ratchet
state that is rolled back (a restored backup) would encrypt a new plaintext under
a (key, nonce) pair it already used. Ratchet version 2 uses
:class:`SaltedAesGcmCipher` instead: key and nonce come from the message key *and*
a random salt carried in the envelope, so a rollback never repeats the pair.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

from veil.crypto.errors import AuthenticationFailed, CryptoError
from veil.crypto.primitives import (
    AEAD_NONCE_SIZE,
    AEAD_TAG_SIZE,
    aead_decrypt,
    aead_encrypt,
    aes256_cbc_decrypt,
    aes256_cbc_encrypt,
    constant_time_equal,
    hkdf_sha256,
    hmac_sha256,
)
from veil.ratchet.errors import MessageAuthenticationFailed
from veil.ratchet.kdf import KEY_SIZE

__all__ = [
    "AES_GCM_MESSAGE_KEYS_INFO",
    "HEADER_SEAL_OVERHEAD",
    "SALTED_MESSAGE_KEYS_INFO",
    "SIGNAL_MESSAGE_KEYS_INFO",
    "AesGcmCipher",
    "MessageCipher",
    "SaltedAesGcmCipher",
    "SignalCbcHmacCipher",
    "open_header",
    "seal_header",
]

AES_GCM_MESSAGE_KEYS_INFO = b"Veil ratchet v1 message key"
SIGNAL_MESSAGE_KEYS_INFO = b"Veil ratchet v1 signal message key"
SALTED_MESSAGE_KEYS_INFO = b"Veil ratchet v2 message key"
HEADER_SEAL_OVERHEAD = AEAD_NONCE_SIZE + AEAD_TAG_SIZE
_AES_BLOCK = 16
_HMAC_SIZE = 32


class MessageCipher(Protocol):
    """Encrypts one message body under a single-use message key."""

    cipher_id: ClassVar[int]
    """Stable number recorded in persisted state."""

    def seal(self, message_key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
        """Encrypt and authenticate ``plaintext``."""
        ...

    def open(self, message_key: bytes, body: bytes, associated_data: bytes) -> bytes:
        """Decrypt ``body``; :class:`MessageAuthenticationFailed` if forged."""
        ...

    def overhead(self, plaintext_length: int) -> int:
        """How many bytes :meth:`seal` adds to a plaintext of this length."""
        ...


class AesGcmCipher:
    """AES-256-GCM; key and nonce are ``HKDF(salt=0^32, ikm=message key)``.

    Each message key is used once, so the derived nonce never repeats under a key.
    """

    cipher_id: ClassVar[int] = 1

    @staticmethod
    def _expand(message_key: bytes) -> tuple[bytes, bytes]:
        output = hkdf_sha256(
            message_key,
            salt=bytes(KEY_SIZE),
            info=AES_GCM_MESSAGE_KEYS_INFO,
            length=KEY_SIZE + AEAD_NONCE_SIZE,
        )
        return output[:KEY_SIZE], output[KEY_SIZE:]

    def seal(self, message_key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
        """Encrypt ``plaintext``; the 16-byte tag is appended."""
        key, nonce = self._expand(message_key)
        return aead_encrypt(key, nonce, plaintext, associated_data)

    def open(self, message_key: bytes, body: bytes, associated_data: bytes) -> bytes:
        """Decrypt ``body``; :class:`MessageAuthenticationFailed` if forged."""
        return _open_gcm_body(*self._expand(message_key), body, associated_data)

    def overhead(self, plaintext_length: int) -> int:
        """GCM adds exactly its tag."""
        return AEAD_TAG_SIZE


class SaltedAesGcmCipher:
    """Ratchet v2's body cipher: AES-256-GCM under
    ``key || nonce = HKDF-SHA256(salt = salt, ikm = message key, info =
    SALTED_MESSAGE_KEYS_INFO, L = 44)``.

    The salt is the sealed header's random 12-byte nonce, drawn fresh for every
    message from the injected random source and carried in the envelope. A message
    key that a rollback makes the ratchet use again is thus expanded under a new
    salt into a new key and nonce (RFC 5869 section 3.1 allows a public random
    salt; NIST SP 800-38D section 8 requires the (key, nonce) pair never to repeat).
    """

    @staticmethod
    def _expand(message_key: bytes, salt: bytes) -> tuple[bytes, bytes]:
        output = hkdf_sha256(
            message_key,
            salt=salt,
            info=SALTED_MESSAGE_KEYS_INFO,
            length=KEY_SIZE + AEAD_NONCE_SIZE,
        )
        return output[:KEY_SIZE], output[KEY_SIZE:]

    def seal(
        self, message_key: bytes, salt: bytes, plaintext: bytes, associated_data: bytes
    ) -> bytes:
        """Encrypt ``plaintext`` under the key and nonce of ``(message_key, salt)``."""
        key, nonce = self._expand(message_key, salt)
        return aead_encrypt(key, nonce, plaintext, associated_data)

    def open(self, message_key: bytes, salt: bytes, body: bytes, associated_data: bytes) -> bytes:
        """Decrypt ``body``; :class:`MessageAuthenticationFailed` if forged."""
        return _open_gcm_body(*self._expand(message_key, salt), body, associated_data)


class SignalCbcHmacCipher:
    """Signal's recommended ENCRYPT: HKDF to 80 bytes (encryption key, MAC key, IV),
    AES-256-CBC with PKCS#7, then HMAC-SHA256 over ``associated_data || ciphertext``."""

    cipher_id: ClassVar[int] = 2

    @staticmethod
    def _expand(message_key: bytes) -> tuple[bytes, bytes, bytes]:
        output = hkdf_sha256(
            message_key, salt=bytes(KEY_SIZE), info=SIGNAL_MESSAGE_KEYS_INFO, length=80
        )
        return output[:KEY_SIZE], output[KEY_SIZE : 2 * KEY_SIZE], output[2 * KEY_SIZE :]

    def seal(self, message_key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
        """Encrypt ``plaintext`` and append the full 32-byte HMAC."""
        encryption_key, mac_key, iv = self._expand(message_key)
        ciphertext = aes256_cbc_encrypt(encryption_key, iv, plaintext)
        return ciphertext + hmac_sha256(mac_key, associated_data + ciphertext)

    def open(self, message_key: bytes, body: bytes, associated_data: bytes) -> bytes:
        """Verify the HMAC first, then decrypt; any fault is an authentication failure."""
        if len(body) < _AES_BLOCK + _HMAC_SIZE:
            raise MessageAuthenticationFailed("message body is shorter than one block and a MAC")
        encryption_key, mac_key, iv = self._expand(message_key)
        ciphertext, tag = body[:-_HMAC_SIZE], body[-_HMAC_SIZE:]
        if not constant_time_equal(tag, hmac_sha256(mac_key, associated_data + ciphertext)):
            raise MessageAuthenticationFailed("message body did not authenticate")
        try:
            return aes256_cbc_decrypt(encryption_key, iv, ciphertext)
        except CryptoError as exc:
            raise MessageAuthenticationFailed("authenticated body has bad padding") from exc

    def overhead(self, plaintext_length: int) -> int:
        """PKCS#7 pads to the next whole block (always at least one byte), plus the MAC."""
        padded = (plaintext_length // _AES_BLOCK + 1) * _AES_BLOCK
        return padded - plaintext_length + _HMAC_SIZE


def _open_gcm_body(key: bytes, nonce: bytes, body: bytes, associated_data: bytes) -> bytes:
    try:
        return aead_decrypt(key, nonce, body, associated_data)
    except AuthenticationFailed as exc:
        raise MessageAuthenticationFailed("message body did not authenticate") from exc


def seal_header(header_key: bytes, nonce: bytes, header: bytes, associated_data: bytes) -> bytes:
    """Encrypt a header: ``nonce || AES-256-GCM(header_key, nonce, header, ad)``.

    A header key protects a whole chain (and a rolled-back state uses it again),
    so the nonce is random (from the ratchet's injected random source) rather than
    derived: a rollback never repeats a (header key, nonce) pair.
    """
    return nonce + aead_encrypt(header_key, nonce, header, associated_data)


def open_header(header_key: bytes, sealed: bytes, associated_data: bytes) -> bytes | None:
    """Return the header if ``header_key`` opens ``sealed``, else ``None``.

    ``None`` rather than an exception because the receiver tries several keys.
    """
    if len(sealed) < HEADER_SEAL_OVERHEAD:
        return None
    nonce, ciphertext = sealed[:AEAD_NONCE_SIZE], sealed[AEAD_NONCE_SIZE:]
    try:
        return aead_decrypt(header_key, nonce, ciphertext, associated_data)
    except AuthenticationFailed:
        return None
