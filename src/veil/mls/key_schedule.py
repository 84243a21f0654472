"""The MLS key schedule (RFC 9420 §8): epoch secrets, PSKs, exporter, transcript hashes.

::

    init_secret_[n-1] --Extract(commit_secret)--> ExpandWithLabel("joiner", GroupContext_[n])
      = joiner_secret --Extract(psk_secret)--> member_prk
      member_prk -> welcome_secret = DeriveSecret("welcome")
      member_prk -> epoch_secret = ExpandWithLabel("epoch", GroupContext_[n])
      epoch_secret -> sender data, encryption, exporter, external, confirm, membership,
                      resumption, authentication, init (for epoch n+1)
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.mls.codec import TlsReader, TlsWriter
from veil.mls.errors import MLSDecodeError
from veil.mls.suites import CipherSuite

__all__ = [
    "PSK_EXTERNAL",
    "PSK_RESUMPTION",
    "EpochSecrets",
    "PreSharedKeyID",
    "confirmed_transcript_hash",
    "derive_epoch_secrets",
    "derive_psk_secret",
    "interim_transcript_hash",
    "joiner_secret",
    "welcome_key_nonce",
    "welcome_secret",
]

PSK_EXTERNAL = 1
PSK_RESUMPTION = 2
RESUMPTION_USAGES = (1, 2, 3)  # application, reinit, branch
MAX_PSK_ID = 256
MAX_NONCE = 64


@dataclass(frozen=True, slots=True)
class PreSharedKeyID:
    """Names one PSK (RFC 9420 §8.4): external by id, or resumption by group and epoch."""

    psk_type: int
    psk_nonce: bytes
    psk_id: bytes = b""
    usage: int = 0
    psk_group_id: bytes = b""
    psk_epoch: int = 0

    def encode(self, writer: TlsWriter) -> None:
        """Append the PreSharedKeyID."""
        writer.u8(self.psk_type)
        if self.psk_type == PSK_EXTERNAL:
            writer.opaque(self.psk_id)
        else:
            writer.u8(self.usage).opaque(self.psk_group_id).u64(self.psk_epoch)
        writer.opaque(self.psk_nonce)

    @classmethod
    def decode(cls, reader: TlsReader) -> PreSharedKeyID:
        """Read a PreSharedKeyID; unknown types and usages are rejected."""
        psk_type = reader.u8()
        if psk_type == PSK_EXTERNAL:
            psk_id = reader.opaque(MAX_PSK_ID)
            return cls(psk_type, psk_nonce=reader.opaque(MAX_NONCE), psk_id=psk_id)
        if psk_type != PSK_RESUMPTION:
            raise MLSDecodeError(f"unknown PSK type {psk_type}")
        usage = reader.u8()
        if usage not in RESUMPTION_USAGES:
            raise MLSDecodeError(f"unknown resumption PSK usage {usage}")
        group_id, epoch = reader.opaque(MAX_PSK_ID), reader.u64()
        return cls(
            psk_type,
            psk_nonce=reader.opaque(MAX_NONCE),
            usage=usage,
            psk_group_id=group_id,
            psk_epoch=epoch,
        )


def derive_psk_secret(suite: CipherSuite, psks: list[tuple[PreSharedKeyID, bytes]]) -> bytes:
    """Chain every ``(id, psk)`` into one ``psk_secret`` (RFC 9420 §8.4); zeros if none."""
    zero = bytes(suite.hash_size)
    secret = zero
    for index, (psk_id, psk) in enumerate(psks):
        label = TlsWriter()
        psk_id.encode(label)
        label.u16(index).u16(len(psks))
        extracted = suite.extract(zero, psk)
        psk_input = suite.expand_with_label(
            extracted, b"derived psk", label.build(), suite.hash_size
        )
        secret = suite.extract(psk_input, secret)
    return secret


def joiner_secret(
    suite: CipherSuite, init_secret: bytes, commit_secret: bytes, group_context: bytes
) -> bytes:
    """``joiner_secret`` of the new epoch, from the previous ``init_secret``."""
    prk = suite.extract(init_secret, commit_secret)
    return suite.expand_with_label(prk, b"joiner", group_context, suite.hash_size)


@dataclass(frozen=True, slots=True)
class EpochSecrets:
    """The secrets of one epoch. ``init_secret`` seeds the next epoch; delete the rest
    (except what the secret tree still needs) once the epoch is over."""

    joiner_secret: bytes
    welcome_secret: bytes
    epoch_secret: bytes
    sender_data_secret: bytes
    encryption_secret: bytes
    exporter_secret: bytes
    external_secret: bytes
    confirmation_key: bytes
    membership_key: bytes
    resumption_psk: bytes
    epoch_authenticator: bytes
    init_secret: bytes

    def export(self, suite: CipherSuite, label: bytes, context: bytes, length: int) -> bytes:
        """``MLS-Exporter(Label, Context, Length)`` (RFC 9420 §8.5)."""
        derived = suite.derive_secret(self.exporter_secret, label)
        return suite.expand_with_label(derived, b"exported", suite.hash(context), length)

    def external_public_key(self, suite: CipherSuite) -> bytes:
        """The HPKE public key external joiners encrypt to (RFC 9420 §8.3)."""
        return suite.derive_key_pair(self.external_secret)[1]


def welcome_secret(suite: CipherSuite, joiner: bytes, psk_secret: bytes) -> bytes:
    """The ``welcome_secret`` a joiner needs to open the GroupInfo in a Welcome."""
    return suite.derive_secret(suite.extract(joiner, psk_secret), b"welcome")


def derive_epoch_secrets(
    suite: CipherSuite, joiner: bytes, psk_secret: bytes, group_context: bytes
) -> EpochSecrets:
    """Every secret of the epoch whose serialised GroupContext is ``group_context``."""
    member_prk = suite.extract(joiner, psk_secret)
    epoch_secret = suite.expand_with_label(member_prk, b"epoch", group_context, suite.hash_size)

    def derive(label: bytes) -> bytes:
        """``DeriveSecret(epoch_secret, label)``."""
        return suite.derive_secret(epoch_secret, label)

    return EpochSecrets(
        joiner_secret=joiner,
        welcome_secret=welcome_secret(suite, joiner, psk_secret),
        epoch_secret=epoch_secret,
        sender_data_secret=derive(b"sender data"),
        encryption_secret=derive(b"encryption"),
        exporter_secret=derive(b"exporter"),
        external_secret=derive(b"external"),
        confirmation_key=derive(b"confirm"),
        membership_key=derive(b"membership"),
        resumption_psk=derive(b"resumption"),
        epoch_authenticator=derive(b"authentication"),
        init_secret=derive(b"init"),
    )


def confirmed_transcript_hash(
    suite: CipherSuite, interim_before: bytes, confirmed_input: bytes
) -> bytes:
    """``Hash(interim_[n-1] || ConfirmedTranscriptHashInput_[n])`` (RFC 9420 §8.2)."""
    return suite.hash(interim_before + confirmed_input)


def interim_transcript_hash(suite: CipherSuite, confirmed: bytes, confirmation_tag: bytes) -> bytes:
    """``Hash(confirmed_[n] || InterimTranscriptHashInput_[n])``; the input is the tag<V>."""
    return suite.hash(confirmed + TlsWriter().opaque(confirmation_tag).build())


def welcome_key_nonce(suite: CipherSuite, welcome_secret: bytes) -> tuple[bytes, bytes]:
    """The AEAD key and nonce that encrypt a Welcome's GroupInfo (RFC 9420 §12.4.3.1)."""
    key = suite.expand_with_label(welcome_secret, b"key", b"", suite.key_size)
    nonce = suite.expand_with_label(welcome_secret, b"nonce", b"", suite.nonce_size)
    return key, nonce
