"""The relay's long-term identity: an Ed25519 key and a self-signed certificate.

The same key signs the TLS handshake (through the certificate) and the relay hello,
so a client that pinned the fingerprint in the relay address checks one key twice.
The certificate is only a container for that key: clients never consult a CA, the
validity dates or the names in it.

On disk (in the relay's data directory, each file mode 0600):

================  ===============================================
``identity.key``  the Ed25519 private key, PKCS#8 PEM, unencrypted
``identity.crt``  the self-signed X.509 certificate, PEM
================  ===============================================
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID

from veil.crypto import Ed25519KeyPair, RandomSource, constant_time_equal, sha256
from veil.relay.protocol.address import encode_fingerprint
from veil.relay.protocol.errors import IdentityMismatch

__all__ = [
    "CERTIFICATE_FILE",
    "IDENTITY_KEY_FILE",
    "RelayIdentity",
    "certificate_public_key",
    "fingerprint_of",
    "verify_certificate",
]

IDENTITY_KEY_FILE = "identity.key"
CERTIFICATE_FILE = "identity.crt"
_PRIVATE_FILE_MODE = 0o600
_SERIAL_BYTES = 16
# RFC 5280 §4.1.2.5: this date means "no well-defined expiration".
_NO_EXPIRY = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.UTC)


def fingerprint_of(identity_public_key: bytes) -> str:
    """Return the address fingerprint of a raw 32-byte Ed25519 public key."""
    return encode_fingerprint(sha256(identity_public_key))


def certificate_public_key(certificate_der: bytes) -> bytes:
    """Return the raw Ed25519 public key inside a DER certificate.

    Raises :class:`IdentityMismatch` if the certificate does not parse or holds
    another kind of key: either way it cannot be the relay we pinned.
    """
    try:
        public_key = x509.load_der_x509_certificate(certificate_der).public_key()
    except ValueError as exc:
        raise IdentityMismatch("relay certificate does not parse") from exc
    if not isinstance(public_key, ed25519.Ed25519PublicKey):
        raise IdentityMismatch("relay certificate does not hold an Ed25519 key")
    return public_key.public_bytes_raw()


def verify_certificate(certificate_der: bytes, pinned_digest: bytes) -> bytes:
    """Check a peer certificate against a pinned fingerprint digest.

    Returns the identity public key (for verifying the relay hello) or raises
    :class:`IdentityMismatch`. The digest comparison is constant time.
    """
    public_key = certificate_public_key(certificate_der)
    if not constant_time_equal(sha256(public_key), pinned_digest):
        raise IdentityMismatch("relay identity does not match the pinned fingerprint")
    return public_key


@dataclass(frozen=True, slots=True)
class RelayIdentity:
    """A relay's identity key pair and the certificate that carries it."""

    key_pair: Ed25519KeyPair
    certificate_pem: bytes

    @property
    def fingerprint(self) -> str:
        """The fingerprint clients pin in the relay address."""
        return fingerprint_of(self.key_pair.public)

    @classmethod
    def generate(cls, rng: RandomSource, now: datetime.datetime) -> RelayIdentity:
        """Make a fresh identity key and its self-signed certificate."""
        key_pair = Ed25519KeyPair.generate(rng)
        return cls(key_pair, _self_signed_certificate(key_pair, rng, now))

    def save(self, data_dir: Path) -> None:
        """Write the key and certificate into ``data_dir``; never overwrite a file."""
        _write_private(data_dir / IDENTITY_KEY_FILE, self._private_key_pem())
        _write_private(data_dir / CERTIFICATE_FILE, self.certificate_pem)

    @classmethod
    def load(cls, data_dir: Path) -> RelayIdentity:
        """Read the identity written by :meth:`save` and check the two files match."""
        key_pem = (data_dir / IDENTITY_KEY_FILE).read_bytes()
        certificate_pem = (data_dir / CERTIFICATE_FILE).read_bytes()
        private_key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(private_key, ed25519.Ed25519PrivateKey):
            raise ValueError(f"{IDENTITY_KEY_FILE} does not hold an Ed25519 key")
        key_pair = Ed25519KeyPair(private_key.private_bytes_raw())
        certificate_der = x509.load_pem_x509_certificate(certificate_pem).public_bytes(
            serialization.Encoding.DER
        )
        if certificate_public_key(certificate_der) != key_pair.public:
            raise ValueError(f"{CERTIFICATE_FILE} does not match {IDENTITY_KEY_FILE}")
        return cls(key_pair, certificate_pem)

    def _private_key_pem(self) -> bytes:
        private_key = ed25519.Ed25519PrivateKey.from_private_bytes(self.key_pair.private)
        return private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def _self_signed_certificate(
    key_pair: Ed25519KeyPair, rng: RandomSource, now: datetime.datetime
) -> bytes:
    private_key = ed25519.Ed25519PrivateKey.from_private_bytes(key_pair.private)
    # The name is informative only; clients pin the key, not the name.
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, fingerprint_of(key_pair.public))])
    serial = int.from_bytes(rng.random_bytes(_SERIAL_BYTES), "big") >> 1 or 1
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(serial)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(_NO_EXPIRY)
        .sign(private_key, algorithm=None)
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def _write_private(path: Path, content: bytes) -> None:
    """Create ``path`` readable by its owner only, refusing to replace an existing file."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE_FILE_MODE)
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())
