"""RFC 9420 §12 rejections, part 2: key packages, PSK and group-context proposals,
Welcomes, GroupInfos and external commits; each raises its own error and changes
nothing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from helpers.mls_forge import (
    assert_rejected,
    by_value,
    commit_with_path,
    four_members,
    publish,
)
from helpers.mls_groups import LIFETIME, Harness
from veil.mls.codec import decode
from veil.mls.errors import (
    DecryptionFailed,
    InvalidCommit,
    InvalidKeyPackage,
    InvalidLeafNode,
    InvalidMembership,
    InvalidProposal,
    InvalidSignature,
    InvalidTree,
    NoMatchingKeyPackage,
)
from veil.mls.external_join import group_info_for_joiners, join_by_external_commit
from veil.mls.framing import (
    SENDER_NEW_MEMBER_COMMIT,
    WIRE_PUBLIC,
    MLSMessage,
    PublicMessage,
)
from veil.mls.group_context import Extension
from veil.mls.group_state import EXTENSION_RATCHET_TREE, GroupState, JoinKeys, join_from_welcome
from veil.mls.key_schedule import PSK_EXTERNAL, PSK_RESUMPTION, PreSharedKeyID
from veil.mls.leaf_node import CREDENTIAL_X509, Credential, KeyPackage
from veil.mls.nodes import decode_ratchet_tree
from veil.mls.operations import create_commit, new_key_package
from veil.mls.processing import process_message
from veil.mls.proposals import (
    Add,
    Commit,
    GroupContextExtensions,
    PreSharedKey,
    ProposalOrRef,
)
from veil.mls.protection import sign_content
from veil.mls.ratchet_tree import RatchetTree
from veil.mls.suites import SUITES, suite_by_id
from veil.mls.welcome import GroupInfo, Welcome


@pytest.fixture(params=sorted(SUITES), ids=lambda suite_id: f"{suite_id:#06x}")
def group(request: pytest.FixtureRequest) -> Harness:
    """Four members m0..m3 in epoch 1, in each suite Veil implements."""
    return four_members(suite_by_id(request.param))


# --- Add proposals and key packages (RFC 9420 §10.1, §12.1.1) ----------------------------


def fresh_package(group: Harness, suite_id: int | None = None) -> KeyPackage:
    """A new, valid key package in ``suite_id`` (default: the group's suite)."""
    suite = group.suite if suite_id is None else suite_by_id(suite_id)
    return new_key_package(suite, group.rng, LIFETIME)[0]


def add_commit(group: Harness, package: KeyPackage) -> MLSMessage:
    """m0 commits an Add of ``package`` by value, without a path."""
    return publish(group.members["m0"], by_value(Add(package)))


def other_suite(group: Harness) -> int:
    """A suite Veil implements that is not the group's."""
    return next(suite_id for suite_id in sorted(SUITES) if suite_id != group.suite.suite_id)


def test_key_package_of_another_suite_is_rejected(group: Harness) -> None:
    assert_rejected(
        group.members["m1"],
        add_commit(group, fresh_package(group, other_suite(group))),
        InvalidKeyPackage,
    )


def test_key_package_with_a_bad_signature_is_rejected(group: Harness) -> None:
    package = fresh_package(group)
    package = replace(package, signature=bytes(len(package.signature)))
    assert_rejected(group.members["m1"], add_commit(group, package), InvalidSignature)


def test_key_package_reusing_a_members_key_is_rejected(group: Harness) -> None:
    """The joiner's encryption key is one a member already uses (RFC 9420 §7.3)."""
    package, keys = new_key_package(group.suite, group.rng, LIFETIME)
    taken = group.members["m2"].tree.member_leaf(2).encryption_key
    leaf = replace(package.leaf_node, encryption_key=taken).signed(
        group.suite, keys.signature_private, b"", 0
    )
    package = replace(package, leaf_node=leaf).signed(group.suite, keys.signature_private)
    assert_rejected(group.members["m1"], add_commit(group, package), InvalidLeafNode)


def test_key_package_with_init_key_equal_to_leaf_key_is_rejected(group: Harness) -> None:
    package, keys = new_key_package(group.suite, group.rng, LIFETIME)
    package = replace(package, init_key=package.leaf_node.encryption_key)
    package = package.signed(group.suite, keys.signature_private)
    assert_rejected(group.members["m1"], add_commit(group, package), InvalidKeyPackage)


def test_same_key_package_added_twice_is_rejected(group: Harness) -> None:
    package = fresh_package(group)
    commit = by_value(Add(package), Add(package))
    assert_rejected(group.members["m1"], publish(group.members["m0"], commit), InvalidLeafNode)


def test_key_package_with_an_x509_credential_is_rejected(group: Harness) -> None:
    """Veil groups admit only basic credentials (docs/protocol/mls.md)."""
    package, keys = new_key_package(group.suite, group.rng, LIFETIME)
    credential = Credential(CREDENTIAL_X509, certificates=(b"certificate",))
    capabilities = replace(package.leaf_node.capabilities, credentials=(CREDENTIAL_X509,))
    leaf = replace(package.leaf_node, credential=credential, capabilities=capabilities)
    leaf = leaf.signed(group.suite, keys.signature_private, b"", 0)
    package = replace(package, leaf_node=leaf).signed(group.suite, keys.signature_private)
    assert_rejected(group.members["m1"], add_commit(group, package), InvalidLeafNode)


# --- PreSharedKey and GroupContextExtensions proposals (RFC 9420 §12.1.4, §12.1.7) -------


def external_psk(nonce: bytes) -> PreSharedKey:
    """A PreSharedKey proposal for the external PSK ``b"psk"``."""
    return PreSharedKey(PreSharedKeyID(PSK_EXTERNAL, nonce, psk_id=b"psk"))


PSKS = {b"psk": bytes(32)}


def test_psk_named_twice_is_rejected(group: Harness) -> None:
    """RFC 9420 §12.2: no two PreSharedKey proposals may name the same PSK."""
    nonce = bytes(group.suite.hash_size)
    commit = by_value(external_psk(nonce), external_psk(nonce))
    assert_rejected(
        group.members["m1"], publish(group.members["m0"], commit), InvalidProposal, PSKS
    )


def test_psk_nonce_of_wrong_length_is_rejected(group: Harness) -> None:
    """RFC 9420 §12.1.4: the psk_nonce is KDF.Nh bytes long."""
    commit = by_value(external_psk(b"short"))
    assert_rejected(
        group.members["m1"], publish(group.members["m0"], commit), InvalidProposal, PSKS
    )


def test_resumption_psk_for_reinit_in_an_ordinary_commit_is_rejected(group: Harness) -> None:
    """RFC 9420 §12.1.4: outside a ReInit or branch, a resumption PSK has usage
    ``application``; here it claims ``reinit`` (m0 holds the epoch-1 secret)."""
    member = group.members["m0"]
    psk = PreSharedKeyID(
        PSK_RESUMPTION,
        bytes(group.suite.hash_size),
        usage=2,
        psk_group_id=member.context.group_id,
        psk_epoch=member.context.epoch,
    )
    forged = commit_with_path(member, (PreSharedKey(psk),), group.rng)
    assert_rejected(group.members["m1"], forged, InvalidProposal)


REQUIRED_CAPABILITIES = 3
EXTERNAL_SENDERS = 5
EMPTY_REQUIREMENTS = b"\x00\x00\x00"  # no extension, proposal or credential types


@pytest.mark.parametrize(
    "extensions",
    [
        (Extension(0xFF00, b"unknown"),),
        (Extension(REQUIRED_CAPABILITIES, EMPTY_REQUIREMENTS),) * 2,
        (Extension(REQUIRED_CAPABILITIES, b"\x00\x02\x00\x09\x00"),),
        (Extension(REQUIRED_CAPABILITIES, b"\x01"),),
        (Extension(EXTERNAL_SENDERS, b"\x05garbage"),),
    ],
    ids=[
        "type-no-member-supports",
        "type-twice",
        "requires-unsupported-proposal-type",
        "undecodable-required-capabilities",
        "undecodable-external-senders",
    ],
)
def test_invalid_group_context_extensions_are_rejected(
    group: Harness, extensions: tuple[Extension, ...]
) -> None:
    """RFC 9420 §11.1, §12.1.7, §13: members support every new extension and every
    required capability, no type appears twice, and known extensions decode."""
    proposal = GroupContextExtensions(extensions)
    forged = commit_with_path(group.members["m0"], (proposal,), group.rng)
    assert_rejected(group.members["m1"], forged, InvalidProposal)


def test_group_context_extensions_members_support_are_accepted(group: Harness) -> None:
    """The control case: well-formed, empty required capabilities pass."""
    proposal = GroupContextExtensions((Extension(REQUIRED_CAPABILITIES, EMPTY_REQUIREMENTS),))
    message = commit_with_path(group.members["m0"], (proposal,), group.rng)
    outcome = process_message(group.members["m1"], message)
    assert outcome.state.context.extensions == proposal.extensions


# --- joining: Welcome and external commits (RFC 9420 §12.4.3) ----------------------------


def welcome_for(group: Harness) -> tuple[Welcome, KeyPackage, JoinKeys]:
    """A Welcome m0 sends for a new member, with that member's package and keys."""
    package, keys = new_key_package(group.suite, group.rng, LIFETIME)
    result = create_commit(group.members["m0"], group.rng, by_value=(Add(package),))
    assert result.welcome is not None and isinstance(result.welcome.body, Welcome)
    return result.welcome.body, package, keys


def test_welcome_for_another_key_package_is_rejected(group: Harness) -> None:
    welcome, _, keys = welcome_for(group)
    other, _ = new_key_package(group.suite, group.rng, LIFETIME)
    with pytest.raises(NoMatchingKeyPackage):
        join_from_welcome(welcome, other, keys)


def test_welcome_with_tampered_group_info_is_rejected(group: Harness) -> None:
    welcome, package, keys = welcome_for(group)
    sealed = welcome.encrypted_group_info
    tampered = replace(welcome, encrypted_group_info=sealed[:-1] + bytes([sealed[-1] ^ 1]))
    with pytest.raises(DecryptionFailed):
        join_from_welcome(tampered, package, keys)


def public_group_info(group: Harness) -> GroupInfo:
    """The GroupInfo m0 publishes for external joiners."""
    info = group_info_for_joiners(group.members["m0"]).body
    assert isinstance(info, GroupInfo)
    return info


def test_group_info_signed_by_no_member_is_rejected(group: Harness) -> None:
    info = replace(public_group_info(group), signer=9)
    forged = info.signed(group.suite, group.members["m0"].signature_key)
    with pytest.raises(InvalidMembership):
        join_by_external_commit(forged, group.rng, LIFETIME)


def test_group_info_with_a_bad_signature_is_rejected(group: Harness) -> None:
    info = public_group_info(group)
    forged = replace(info, signature=bytes(len(info.signature)))
    with pytest.raises(InvalidSignature):
        join_by_external_commit(forged, group.rng, LIFETIME)


def test_group_info_with_a_tampered_tree_is_rejected(group: Harness) -> None:
    """A GroupInfo whose tree lost a member no longer matches its tree hash."""
    info = public_group_info(group)
    tree = RatchetTree(group.suite, decode(info_tree(info), decode_ratchet_tree))
    tree.remove_leaf(3)
    extensions = tuple(
        Extension(EXTENSION_RATCHET_TREE, tree.to_bytes())
        if e.extension_type == EXTENSION_RATCHET_TREE
        else e
        for e in info.extensions
    )
    forged = replace(info, extensions=extensions).signed(
        group.suite, group.members["m0"].signature_key
    )
    with pytest.raises(InvalidTree):
        join_by_external_commit(forged, group.rng, LIFETIME)


def info_tree(info: GroupInfo) -> bytes:
    """The ratchet tree extension of a GroupInfo."""
    return next(
        e.extension_data for e in info.extensions if e.extension_type == EXTENSION_RATCHET_TREE
    )


def external_commit(group: Harness) -> tuple[PublicMessage, GroupState]:
    """A valid external commit built from m0's published GroupInfo, and the joiner."""
    message, joiner = join_by_external_commit(public_group_info(group), group.rng, LIFETIME)
    body = message.body
    assert isinstance(body, PublicMessage) and isinstance(body.content.content, Commit)
    assert body.content.sender.sender_type == SENDER_NEW_MEMBER_COMMIT
    return body, joiner


def test_external_commit_is_accepted(group: Harness) -> None:
    """The control case for the two below."""
    body, joiner = external_commit(group)
    outcome = process_message(group.members["m1"], MLSMessage(body))
    assert outcome.state.epoch_authenticator == joiner.epoch_authenticator


def test_external_commit_without_path_is_rejected(group: Harness) -> None:
    body, _ = external_commit(group)
    commit = body.content.content
    assert isinstance(commit, Commit)
    content = replace(body.content, content=replace(commit, path=None))
    assert_rejected(group.members["m1"], MLSMessage(replace(body, content=content)), InvalidCommit)


def test_external_commit_with_an_add_is_rejected(group: Harness) -> None:
    """An external commit may carry only ExternalInit, Remove and PreSharedKey; the
    joiner signs the changed commit with its path leaf's key, so only that rule can
    catch it."""
    body, joiner = external_commit(group)
    commit = body.content.content
    assert isinstance(commit, Commit)
    extra = ProposalOrRef(proposal=Add(fresh_package(group)))
    content = replace(body.content, content=replace(commit, proposals=(*commit.proposals, extra)))
    context = group.members["m1"].context
    signature = sign_content(group.suite, joiner.signature_key, WIRE_PUBLIC, content, context)
    forged = MLSMessage(replace(body, content=content, signature=signature))
    assert_rejected(group.members["m1"], forged, InvalidProposal)
