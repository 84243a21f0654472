"""GroupInfo, GroupSecrets and Welcome (RFC 9420 §12.4.3).

A GroupInfo is signed by the committer; a Welcome carries it encrypted under the
``welcome_secret``, with the ``joiner_secret`` (and optional path secret and PSK ids)
HPKE-encrypted to each new member's init key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from veil.crypto import RandomSource
from veil.mls.codec import TlsReader, TlsWriter, decode, to_bytes
from veil.mls.errors import DecryptionFailed, InvalidWelcome, MLSProtocolError
from veil.mls.group_context import Extension, GroupContext, decode_extension, encode_extension
from veil.mls.key_schedule import PreSharedKeyID, welcome_key_nonce
from veil.mls.leaf_node import MAX_SIGNATURE
from veil.mls.proposals import MAX_REFERENCE, HPKECiphertext
from veil.mls.suites import CipherSuite

__all__ = [
    "EncryptedGroupSecrets",
    "GroupInfo",
    "GroupSecrets",
    "Welcome",
    "seal_group_info",
    "seal_group_secrets",
]

MAX_SECRET = 64
MAX_ENCRYPTED_GROUP_INFO = 1 << 27


@dataclass(frozen=True, slots=True)
class GroupInfo:
    """What a joiner needs to know about the group, signed by the member at ``signer``."""

    group_context: GroupContext
    extensions: tuple[Extension, ...]
    confirmation_tag: bytes
    signer: int
    signature: bytes = b""

    def to_be_signed(self) -> bytes:
        """GroupInfoTBS."""
        writer = TlsWriter()
        self.group_context.encode(writer)
        writer.vector(self.extensions, encode_extension)
        return writer.opaque(self.confirmation_tag).u32(self.signer).build()

    def signed(self, suite: CipherSuite, key: bytes) -> GroupInfo:
        """This GroupInfo with a fresh signature by ``key``."""
        signature = suite.sign_with_label(key, b"GroupInfoTBS", self.to_be_signed())
        return replace(self, signature=signature)

    def verify(self, suite: CipherSuite, signer_key: bytes) -> None:
        """Raise InvalidSignature unless the signer's key signed it."""
        suite.verify_with_label(signer_key, b"GroupInfoTBS", self.to_be_signed(), self.signature)

    def encode(self, writer: TlsWriter) -> None:
        """Append the GroupInfo."""
        writer.raw(self.to_be_signed()).opaque(self.signature)

    def to_bytes(self) -> bytes:
        """The serialised GroupInfo."""
        return to_bytes(self)

    @classmethod
    def decode(cls, reader: TlsReader) -> GroupInfo:
        """Read a GroupInfo."""
        return cls(
            group_context=GroupContext.decode(reader),
            extensions=tuple(reader.vector(decode_extension, MAX_ENCRYPTED_GROUP_INFO)),
            confirmation_tag=reader.opaque(MAX_SECRET),
            signer=reader.u32(),
            signature=reader.opaque(MAX_SIGNATURE),
        )


@dataclass(frozen=True, slots=True)
class GroupSecrets:
    """The secrets a Welcome gives each new member."""

    joiner_secret: bytes
    path_secret: bytes | None = None
    psks: tuple[PreSharedKeyID, ...] = ()

    def to_bytes(self) -> bytes:
        """The serialised GroupSecrets."""
        writer = TlsWriter().opaque(self.joiner_secret)
        writer.optional(self.path_secret, TlsWriter.opaque)
        return writer.vector(self.psks, lambda w, p: p.encode(w)).build()

    @classmethod
    def decode(cls, reader: TlsReader) -> GroupSecrets:
        """Read GroupSecrets."""
        joiner = reader.opaque(MAX_SECRET)
        path_secret = reader.optional(lambda r: r.opaque(MAX_SECRET))
        return cls(joiner, path_secret, tuple(reader.vector(PreSharedKeyID.decode)))


@dataclass(frozen=True, slots=True)
class EncryptedGroupSecrets:
    """GroupSecrets encrypted to the key package named by ``new_member``."""

    new_member: bytes
    encrypted_group_secrets: HPKECiphertext

    def encode(self, writer: TlsWriter) -> None:
        """Append the EncryptedGroupSecrets."""
        writer.opaque(self.new_member)
        self.encrypted_group_secrets.encode(writer)

    @classmethod
    def decode(cls, reader: TlsReader) -> EncryptedGroupSecrets:
        """Read EncryptedGroupSecrets."""
        return cls(reader.opaque(MAX_REFERENCE), HPKECiphertext.decode(reader))


@dataclass(frozen=True, slots=True)
class Welcome:
    """Brings new members into an epoch."""

    cipher_suite: int
    secrets: tuple[EncryptedGroupSecrets, ...]
    encrypted_group_info: bytes

    def encode(self, writer: TlsWriter) -> None:
        """Append the Welcome."""
        writer.u16(self.cipher_suite).vector(self.secrets, lambda w, s: s.encode(w))
        writer.opaque(self.encrypted_group_info)

    @classmethod
    def decode(cls, reader: TlsReader) -> Welcome:
        """Read a Welcome."""
        suite = reader.u16()
        secrets = tuple(reader.vector(EncryptedGroupSecrets.decode, MAX_ENCRYPTED_GROUP_INFO))
        return cls(suite, secrets, reader.opaque(MAX_ENCRYPTED_GROUP_INFO))

    def open_group_secrets(
        self, suite: CipherSuite, key_package_ref: bytes, init_private_key: bytes
    ) -> GroupSecrets | None:
        """The GroupSecrets for our key package, or None if the Welcome has none for it."""
        for entry in self.secrets:
            if entry.new_member == key_package_ref:
                ciphertext = entry.encrypted_group_secrets
                plaintext = suite.decrypt_with_label(
                    init_private_key,
                    b"Welcome",
                    self.encrypted_group_info,
                    ciphertext.kem_output,
                    ciphertext.ciphertext,
                )
                try:
                    return decode(plaintext, GroupSecrets.decode)
                except MLSProtocolError as error:
                    raise InvalidWelcome("the Welcome's group secrets do not decode") from error
        return None

    def open_group_info(self, suite: CipherSuite, welcome_secret: bytes) -> GroupInfo:
        """Decrypt the GroupInfo with the ``welcome_secret``."""
        key, nonce = welcome_key_nonce(suite, welcome_secret)
        try:
            plaintext = suite.aead_open(key, nonce, b"", self.encrypted_group_info)
            return decode(plaintext, GroupInfo.decode)
        except (DecryptionFailed, MLSProtocolError) as error:
            raise InvalidWelcome("the Welcome's GroupInfo does not open") from error


def seal_group_info(suite: CipherSuite, welcome_secret: bytes, group_info: GroupInfo) -> bytes:
    """Encrypt a GroupInfo for a Welcome."""
    key, nonce = welcome_key_nonce(suite, welcome_secret)
    return suite.aead_seal(key, nonce, b"", group_info.to_bytes())


def seal_group_secrets(
    suite: CipherSuite,
    encrypted_group_info: bytes,
    recipients: Sequence[tuple[bytes, GroupSecrets]],
    rng: RandomSource,
) -> list[HPKECiphertext]:
    """Encrypt each ``(init_key, GroupSecrets)`` to the new member's init key
    (``EncryptWithLabel(init_key, "Welcome", encrypted_group_info, group_secrets)``)."""
    sealed = suite.encrypt_with_label_each(
        [(key, secrets.to_bytes()) for key, secrets in recipients],
        b"Welcome",
        encrypted_group_info,
        rng,
    )
    return [HPKECiphertext(kem_output, ciphertext) for kem_output, ciphertext in sealed]
