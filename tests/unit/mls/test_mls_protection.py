"""Framing and protection: IETF vectors, padding to fixed sizes, tampering, replays."""

from __future__ import annotations

import pytest

from helpers.mls_checks_framing import (
    check_message_protection,
    check_transcript_hashes,
    check_welcome,
)
from helpers.mls_vectors import Case, implemented_cases
from veil.crypto import DeterministicRandom
from veil.mls.codec import TlsWriter, decode
from veil.mls.errors import DecryptionFailed, InvalidSignature, SecretAlreadyUsed
from veil.mls.framing import (
    WIRE_PRIVATE,
    AuthenticatedContent,
    FramedContent,
    PrivateMessage,
    Sender,
)
from veil.mls.group_context import GroupContext
from veil.mls.protection import (
    Padding,
    decrypt_private,
    encrypt_private,
    sign_content,
    verify_content,
)
from veil.mls.secret_tree import SecretTree
from veil.mls.suites import suite_by_id


@pytest.mark.parametrize("case", implemented_cases("message-protection.json"), ids=str)
def test_message_protection_vector(case: Case) -> None:
    check_message_protection(case)


@pytest.mark.parametrize("case", implemented_cases("transcript-hashes.json"), ids=str)
def test_transcript_hashes_vector(case: Case) -> None:
    check_transcript_hashes(case)


SUITE = suite_by_id(0xF00D)
CONTEXT = GroupContext(0xF00D, b"group", 3, b"t" * 64, b"c" * 64)
SIGNATURE_KEY, SIGNATURE_PUBLIC = SUITE.generate_signature_key(DeterministicRandom(b"s"))


def _sealed(text: bytes, tree: SecretTree, padding: Padding | None = None) -> PrivateMessage:
    content = FramedContent(b"group", 3, Sender(1, 2), b"aad", text)
    signature = sign_content(SUITE, SIGNATURE_KEY, WIRE_PRIVATE, content, CONTEXT)
    authenticated = AuthenticatedContent(WIRE_PRIVATE, content, signature)
    return encrypt_private(
        SUITE, authenticated, tree, b"d" * 64, DeterministicRandom(text), padding=padding
    )


def _tree() -> SecretTree:
    return SecretTree(SUITE, b"e" * 64, 4)


def test_padding_makes_every_message_one_size() -> None:
    sizes = {len(_sealed(b"x" * n, _tree(), Padding(block=1024)).ciphertext) for n in (0, 10, 900)}
    assert len(sizes) == 1
    assert len(_sealed(b"x" * 10, _tree()).ciphertext) < sizes.pop()


def test_a_message_opens_once_and_tampering_is_rejected() -> None:
    receiver = _tree()
    message = _sealed(b"hello", _tree(), Padding(block=64))
    opened = decrypt_private(SUITE, message, receiver, b"d" * 64)
    verify_content(SUITE, SIGNATURE_PUBLIC, opened.authenticated, CONTEXT)
    assert opened.authenticated.content.content == b"hello"
    opened.consume(receiver)
    with pytest.raises(SecretAlreadyUsed):
        decrypt_private(SUITE, message, receiver, b"d" * 64)
    forged = _sealed(b"hello", _tree())
    writer = TlsWriter()
    forged.encode(writer)
    flipped = bytearray(writer.build())
    flipped[-1] ^= 1
    with pytest.raises(DecryptionFailed):
        decrypt_private(SUITE, decode(bytes(flipped), PrivateMessage.decode), _tree(), b"d" * 64)
    other_context = GroupContext(0xF00D, b"group", 4, b"t" * 64, b"c" * 64)
    with pytest.raises(InvalidSignature):
        verify_content(SUITE, SIGNATURE_PUBLIC, opened.authenticated, other_context)


def test_failed_decryption_leaves_the_tree_usable() -> None:
    receiver = _tree()
    message = _sealed(b"hello", _tree())
    with pytest.raises(DecryptionFailed):
        decrypt_private(SUITE, message, receiver, b"wrong" * 13)
    assert decrypt_private(SUITE, message, receiver, b"d" * 64).generation == 0


@pytest.mark.parametrize("case", implemented_cases("welcome.json"), ids=str)
def test_welcome_vector(case: Case) -> None:
    check_welcome(case)
