"""Message protection (RFC 9420 §6.1-§6.3): signatures, membership tags, PrivateMessage.

Veil sends fixed-size frames, so PrivateMessage padding is a policy: the plaintext
(content, signature, tag and zero padding) is padded up to a multiple of
:attr:`Padding.block` bytes. A block at least as large as any message makes every
PrivateMessage the same size.

Decryption never changes the secret tree: it returns the generation it used, and the
caller consumes that key only after the signature verified (transactional processing).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from veil.crypto import RandomSource, constant_time_equal
from veil.mls.codec import TlsReader, TlsWriter, decode
from veil.mls.errors import (
    InvalidMembershipTag,
    InvalidMessagePadding,
    WrongContentType,
)
from veil.mls.framing import (
    APPLICATION,
    SENDER_MEMBER,
    WIRE_PRIVATE,
    AuthenticatedContent,
    Content,
    FramedContent,
    PrivateMessage,
    PublicMessage,
    Sender,
    decode_auth,
    decode_content,
    encode_auth,
    encode_content,
)
from veil.mls.group_context import GroupContext
from veil.mls.secret_tree import ContentKind, SecretTree, sender_data_key_nonce
from veil.mls.suites import CipherSuite

__all__ = [
    "DecryptedMessage",
    "Padding",
    "confirmation_tag",
    "decrypt_private",
    "encrypt_private",
    "membership_tag",
    "public_authenticated",
    "sign_content",
    "verify_content",
    "verify_membership_tag",
]

_REUSE_GUARD_SIZE = 4


@dataclass(frozen=True, slots=True)
class Padding:
    """Pad every PrivateMessage plaintext up to a multiple of ``block`` bytes."""

    block: int = 1

    def __post_init__(self) -> None:
        if self.block < 1:
            raise ValueError("the padding block is at least one byte")

    def length_for(self, size: int) -> int:
        """How many zero bytes to append to a plaintext of ``size`` bytes."""
        return -size % self.block


def sign_content(
    suite: CipherSuite,
    signature_key: bytes | Ed25519PrivateKey,
    wire_format: int,
    content: FramedContent,
    context: GroupContext | None,
) -> bytes:
    """The signature over FramedContentTBS."""
    tbs = content.to_be_signed(wire_format, context)
    return suite.sign_with_label(signature_key, b"FramedContentTBS", tbs)


def verify_content(
    suite: CipherSuite,
    public_key: bytes,
    authenticated: AuthenticatedContent,
    context: GroupContext | None,
) -> None:
    """Raise InvalidSignature unless ``public_key`` signed the content."""
    tbs = authenticated.content.to_be_signed(authenticated.wire_format, context)
    suite.verify_with_label(public_key, b"FramedContentTBS", tbs, authenticated.signature)


def _to_be_maced(authenticated: AuthenticatedContent, context: GroupContext) -> bytes:
    content = authenticated.content
    writer = TlsWriter().raw(content.to_be_signed(authenticated.wire_format, context))
    encode_auth(
        writer, content.content_type, authenticated.signature, authenticated.confirmation_tag
    )
    return writer.build()


def membership_tag(
    suite: CipherSuite,
    membership_key: bytes,
    authenticated: AuthenticatedContent,
    context: GroupContext,
) -> bytes:
    """``MAC(membership_key, AuthenticatedContentTBM)`` (RFC 9420 §6.2)."""
    return suite.mac(membership_key, _to_be_maced(authenticated, context))


def verify_membership_tag(
    suite: CipherSuite, membership_key: bytes, message: PublicMessage, context: GroupContext
) -> None:
    """Raise InvalidMembershipTag unless a member's PublicMessage carries the right tag."""
    if message.content.sender.sender_type != SENDER_MEMBER:
        return
    expected = membership_tag(suite, membership_key, message.authenticated_content(), context)
    if not constant_time_equal(expected, message.membership_tag or b""):
        raise InvalidMembershipTag("the membership tag is wrong: not sent by a member")


def confirmation_tag(suite: CipherSuite, confirmation_key: bytes, confirmed_hash: bytes) -> bytes:
    """``MAC(confirmation_key, confirmed_transcript_hash)`` (RFC 9420 §8.1)."""
    return suite.mac(confirmation_key, confirmed_hash)


def _sender_data_aad(group_id: bytes, epoch: int, content_type: int) -> bytes:
    return TlsWriter().opaque(group_id).u64(epoch).u8(content_type).build()


def _content_aad(content: FramedContent | PrivateMessage, content_type: int) -> bytes:
    writer = TlsWriter().opaque(content.group_id).u64(content.epoch).u8(content_type)
    return writer.opaque(content.authenticated_data).build()


def _kind(content_type: int) -> ContentKind:
    return "application" if content_type == APPLICATION else "handshake"


def _guarded(nonce: bytes, reuse_guard: bytes) -> bytes:
    head = bytes(a ^ b for a, b in zip(nonce[:_REUSE_GUARD_SIZE], reuse_guard, strict=True))
    return head + nonce[_REUSE_GUARD_SIZE:]


def encrypt_private(
    suite: CipherSuite,
    authenticated: AuthenticatedContent,
    tree: SecretTree,
    sender_data_secret: bytes,
    rng: RandomSource,
    *,
    padding: Padding | None = None,
) -> PrivateMessage:
    """Encrypt a member's signed content into a PrivateMessage, advancing its ratchet."""
    content = authenticated.content
    if content.sender.sender_type != SENDER_MEMBER or authenticated.wire_format != WIRE_PRIVATE:
        raise ValueError("only members' content signed for a PrivateMessage is encrypted")
    content_type = content.content_type
    writer = TlsWriter()
    encode_content(writer, content.content)
    encode_auth(writer, content_type, authenticated.signature, authenticated.confirmation_tag)
    body = writer.build()
    plaintext = body + bytes((padding or Padding()).length_for(len(body)))
    key = tree.next_sending_key(content.sender.index, _kind(content_type))
    reuse_guard = rng.random_bytes(_REUSE_GUARD_SIZE)
    ciphertext = suite.aead_seal(
        key.key, _guarded(key.nonce, reuse_guard), _content_aad(content, content_type), plaintext
    )
    sender_data = TlsWriter().u32(content.sender.index).u32(key.generation).raw(reuse_guard)
    data_key, data_nonce = sender_data_key_nonce(suite, sender_data_secret, ciphertext)
    aad = _sender_data_aad(content.group_id, content.epoch, content_type)
    encrypted_sender_data = suite.aead_seal(data_key, data_nonce, aad, sender_data.build())
    return PrivateMessage(
        content.group_id,
        content.epoch,
        content_type,
        content.authenticated_data,
        encrypted_sender_data,
        ciphertext,
    )


@dataclass(frozen=True, slots=True)
class DecryptedMessage:
    """A decrypted PrivateMessage. Verify the signature, then ``consume()`` the key."""

    authenticated: AuthenticatedContent
    leaf_index: int
    generation: int

    def consume(self, tree: SecretTree) -> None:
        """Delete the key this message used from ``tree``."""
        content_type = self.authenticated.content.content_type
        tree.consume(self.leaf_index, _kind(content_type), self.generation)


def _open_sender_data(
    suite: CipherSuite, message: PrivateMessage, sender_data_secret: bytes
) -> tuple[int, int, bytes]:
    data_key, data_nonce = sender_data_key_nonce(suite, sender_data_secret, message.ciphertext)
    aad = _sender_data_aad(message.group_id, message.epoch, message.content_type)
    sender_data = suite.aead_open(data_key, data_nonce, aad, message.encrypted_sender_data)
    return decode(sender_data, lambda r: (r.u32(), r.u32(), r.raw(_REUSE_GUARD_SIZE)))


def _parse_plaintext(plaintext: bytes, content_type: int) -> tuple[Content, bytes, bytes | None]:
    reader = TlsReader(plaintext)
    body = decode_content(reader, content_type)
    signature, tag = decode_auth(reader, content_type)
    if any(reader.raw(reader.remaining)):
        raise InvalidMessagePadding("PrivateMessage padding holds a non-zero byte")
    return body, signature, tag


def decrypt_private(
    suite: CipherSuite, message: PrivateMessage, tree: SecretTree, sender_data_secret: bytes
) -> DecryptedMessage:
    """Open a PrivateMessage without changing ``tree``; the signature is not yet checked."""
    leaf_index, generation, reuse_guard = _open_sender_data(suite, message, sender_data_secret)
    key = tree.key_for(leaf_index, _kind(message.content_type), generation)
    plaintext = suite.aead_open(
        key.key,
        _guarded(key.nonce, reuse_guard),
        _content_aad(message, message.content_type),
        message.ciphertext,
    )
    body, signature, tag = _parse_plaintext(plaintext, message.content_type)
    content = FramedContent(
        message.group_id,
        message.epoch,
        Sender(SENDER_MEMBER, leaf_index),
        message.authenticated_data,
        body,
    )
    authenticated = AuthenticatedContent(WIRE_PRIVATE, content, signature, tag)
    return DecryptedMessage(authenticated, leaf_index, generation)


def public_authenticated(message: PublicMessage) -> AuthenticatedContent:
    """The AuthenticatedContent of a PublicMessage; non-members may not send application data."""
    if message.content.content_type == APPLICATION:
        raise WrongContentType("application data must be sent as a PrivateMessage")
    return message.authenticated_content()
