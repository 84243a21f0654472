"""Checkers for the framing IETF vectors: message-protection, transcript-hashes, welcome."""

from __future__ import annotations

from helpers.mls_vectors import Case, checker, hexb
from veil.crypto import DeterministicRandom
from veil.mls.codec import decode
from veil.mls.framing import (
    WIRE_PRIVATE,
    AuthenticatedContent,
    Content,
    FramedContent,
    MLSMessage,
    PrivateMessage,
    PublicMessage,
    Sender,
)
from veil.mls.group_context import GroupContext
from veil.mls.key_schedule import (
    confirmed_transcript_hash,
    derive_epoch_secrets,
    interim_transcript_hash,
    welcome_secret,
)
from veil.mls.leaf_node import KeyPackage
from veil.mls.proposals import Commit, decode_proposal
from veil.mls.protection import (
    confirmation_tag,
    decrypt_private,
    encrypt_private,
    sign_content,
    verify_content,
    verify_membership_tag,
)
from veil.mls.secret_tree import SecretTree
from veil.mls.suites import CipherSuite, suite_by_id
from veil.mls.welcome import Welcome

_N_LEAVES = 2  # the vectors' sender is leaf 1 of a two-member group


def _context(case: Case) -> GroupContext:
    return GroupContext(
        case["cipher_suite"],
        hexb(case["group_id"]),
        case["epoch"],
        hexb(case["tree_hash"]),
        hexb(case["confirmed_transcript_hash"]),
    )


def _check_public(case: Case, name: str, expected: Content) -> None:
    suite, context = suite_by_id(case["cipher_suite"]), _context(case)
    message = decode(hexb(case[f"{name}_pub"]), MLSMessage.decode).body
    assert isinstance(message, PublicMessage)
    assert message.content.content == expected
    verify_membership_tag(suite, hexb(case["membership_key"]), message, context)
    verify_content(suite, hexb(case["signature_pub"]), message.authenticated_content(), context)


def _open(case: Case, suite: CipherSuite, message: PrivateMessage) -> AuthenticatedContent:
    tree = SecretTree(suite, hexb(case["encryption_secret"]), _N_LEAVES)
    opened = decrypt_private(suite, message, tree, hexb(case["sender_data_secret"]))
    verify_content(suite, hexb(case["signature_pub"]), opened.authenticated, _context(case))
    opened.consume(tree)
    return opened.authenticated


def _check_private(case: Case, name: str, expected: Content) -> None:
    suite = suite_by_id(case["cipher_suite"])
    message = decode(hexb(case[f"{name}_priv"]), MLSMessage.decode).body
    assert isinstance(message, PrivateMessage)
    assert _open(case, suite, message).content.content == expected
    # And our own protection of the same content opens the same way.
    content = FramedContent(hexb(case["group_id"]), case["epoch"], Sender(1, 1), b"", expected)
    signature = sign_content(
        suite, hexb(case["signature_priv"]), WIRE_PRIVATE, content, _context(case)
    )
    tag = b"\x00" * suite.hash_size if isinstance(expected, Commit) else None
    ours = AuthenticatedContent(WIRE_PRIVATE, content, signature, tag)
    sender_tree = SecretTree(suite, hexb(case["encryption_secret"]), _N_LEAVES)
    sealed = encrypt_private(
        suite, ours, sender_tree, hexb(case["sender_data_secret"]), DeterministicRandom(b"rg")
    )
    assert _open(case, suite, sealed) == ours


@checker("message-protection.json")
def check_message_protection(case: Case) -> None:
    """Verify and decrypt the vectors' messages, and round-trip our own protection."""
    proposal = decode(hexb(case["proposal"]), decode_proposal)
    commit = decode(hexb(case["commit"]), Commit.decode)
    application = hexb(case["application"])
    _check_public(case, "proposal", proposal)
    _check_public(case, "commit", commit)
    _check_private(case, "proposal", proposal)
    _check_private(case, "commit", commit)
    _check_private(case, "application", application)


@checker("transcript-hashes.json")
def check_transcript_hashes(case: Case) -> None:
    """Confirmed and interim transcript hashes over a commit, and its confirmation tag."""
    suite = suite_by_id(case["cipher_suite"])
    authenticated = decode(hexb(case["authenticated_content"]), AuthenticatedContent.decode)
    confirmed = confirmed_transcript_hash(
        suite,
        hexb(case["interim_transcript_hash_before"]),
        authenticated.confirmed_transcript_input(),
    )
    assert confirmed.hex() == case["confirmed_transcript_hash_after"]
    tag = confirmation_tag(suite, hexb(case["confirmation_key"]), confirmed)
    assert tag == authenticated.confirmation_tag
    interim = interim_transcript_hash(suite, confirmed, tag)
    assert interim.hex() == case["interim_transcript_hash_after"]


@checker("welcome.json")
def check_welcome(case: Case) -> None:
    """Open a Welcome with the init key, check the GroupInfo's signature and confirmation."""
    suite = suite_by_id(case["cipher_suite"])
    welcome = decode(hexb(case["welcome"]), MLSMessage.decode).body
    key_package = decode(hexb(case["key_package"]), MLSMessage.decode).body
    assert isinstance(welcome, Welcome) and isinstance(key_package, KeyPackage)
    secrets = welcome.open_group_secrets(
        suite, key_package.reference(suite), hexb(case["init_priv"])
    )
    assert secrets is not None and not secrets.psks
    no_psk = bytes(suite.hash_size)
    group_info = welcome.open_group_info(
        suite, welcome_secret(suite, secrets.joiner_secret, no_psk)
    )
    group_info.verify(suite, hexb(case["signer_pub"]))
    epoch = derive_epoch_secrets(
        suite, secrets.joiner_secret, no_psk, group_info.group_context.to_bytes()
    )
    confirmed = group_info.group_context.confirmed_transcript_hash
    assert confirmation_tag(suite, epoch.confirmation_key, confirmed) == group_info.confirmation_tag
