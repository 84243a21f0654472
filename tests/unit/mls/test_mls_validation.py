"""RFC 9420 §12 rejections, part 1: framing, the proposal list and the UpdatePath.
Every invalid handshake message raises its own error and leaves the receiver's state
byte for byte as it was (see helpers.mls_forge for how messages are forged)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from helpers.mls_forge import (
    assert_rejected,
    by_value,
    commit_with_path,
    four_members,
    path_of,
    publish,
    resigned,
    valid_commit,
)
from helpers.mls_groups import Harness
from veil.crypto import DeterministicRandom
from veil.mls.errors import (
    InvalidCommit,
    InvalidConfirmationTag,
    InvalidLeafNode,
    InvalidMembership,
    InvalidMembershipTag,
    InvalidProposal,
    InvalidSignature,
    MissingProposal,
    MLSError,
    WrongContentType,
    WrongEpoch,
    WrongGroup,
)
from veil.mls.framing import (
    SENDER_EXTERNAL,
    SENDER_MEMBER,
    SENDER_NEW_MEMBER_PROPOSAL,
    MLSMessage,
    PublicMessage,
    Sender,
)
from veil.mls.group_state import GroupState
from veil.mls.leaf_node import SOURCE_COMMIT, SOURCE_UPDATE, LeafNode
from veil.mls.operations import propose, propose_update
from veil.mls.processing import process_message
from veil.mls.proposals import (
    Commit,
    ExternalInit,
    GroupContextExtensions,
    HPKECiphertext,
    Proposal,
    ProposalOrRef,
    ReInit,
    Remove,
    Update,
)
from veil.mls.suites import SUITES, suite_by_id


@pytest.fixture(params=sorted(SUITES), ids=lambda suite_id: f"{suite_id:#06x}")
def group(request: pytest.FixtureRequest) -> Harness:
    """Four members m0..m3 in epoch 1, in each suite Veil implements."""
    return four_members(suite_by_id(request.param))


# --- framing: who sent it, for which group and epoch --------------------------------


def test_valid_commit_is_accepted(group: Harness) -> None:
    """The control case: the same helpers produce commits the group accepts."""
    message = commit_with_path(group.members["m0"], (Remove(3),), group.rng)
    outcome = process_message(group.members["m1"], message)
    assert outcome.state.context.epoch == group.members["m1"].context.epoch + 1


def test_signature_of_another_member_is_rejected(group: Harness) -> None:
    forged = publish(group.members["m0"], Commit(()), signer=group.members["m2"].signature_key)
    assert_rejected(group.members["m1"], forged, InvalidSignature)


def test_tampered_membership_tag_is_rejected(group: Harness) -> None:
    body = valid_commit(group, "m0").body
    assert isinstance(body, PublicMessage) and body.membership_tag is not None
    bad_tag = bytes([body.membership_tag[0] ^ 1]) + body.membership_tag[1:]
    assert_rejected(
        group.members["m1"], MLSMessage(replace(body, membership_tag=bad_tag)), InvalidMembershipTag
    )


def test_message_of_a_past_epoch_is_rejected(group: Harness) -> None:
    stale = valid_commit(group, "m0")
    group.commit("m2", ())
    assert_rejected(group.members["m1"], stale, WrongEpoch)


def test_message_for_another_group_is_rejected(group: Harness) -> None:
    body = valid_commit(group, "m0").body
    assert isinstance(body, PublicMessage)
    content = replace(body.content, group_id=b"another group")
    assert_rejected(group.members["m1"], MLSMessage(replace(body, content=content)), WrongGroup)


def test_sender_that_is_no_member_is_rejected(group: Harness) -> None:
    ghost = Sender(SENDER_MEMBER, 7)
    assert_rejected(
        group.members["m1"],
        publish(group.members["m0"], Commit(()), sender=ghost),
        InvalidMembership,
    )


def test_application_data_in_a_public_message_is_rejected(group: Harness) -> None:
    """RFC 9420 §6.2: application data MUST be sent as a PrivateMessage."""
    assert_rejected(
        group.members["m1"], publish(group.members["m0"], b"in clear"), WrongContentType
    )


def test_tampered_confirmation_tag_is_rejected(group: Harness) -> None:
    """The commit is otherwise exactly what create_commit made; only the tag differs
    (and the membership tag is recomputed over it)."""
    body = valid_commit(group, "m0").body
    assert isinstance(body, PublicMessage) and body.confirmation_tag is not None
    wrong = bytes([body.confirmation_tag[0] ^ 1]) + body.confirmation_tag[1:]
    forged = publish(group.members["m0"], body.content.content, tag=wrong)
    assert_rejected(group.members["m1"], forged, InvalidConfirmationTag)


# --- the proposal list (RFC 9420 §12.2) ---------------------------------------------


def test_reference_to_an_unknown_proposal_is_rejected(group: Harness) -> None:
    commit = Commit((ProposalOrRef(reference=bytes(32)),))
    assert_rejected(group.members["m1"], publish(group.members["m0"], commit), MissingProposal)


def test_reference_to_a_proposal_of_a_past_epoch_is_rejected(group: Harness) -> None:
    proposal, _, reference = propose_update(group.members["m2"], group.rng)
    for name in ("m0", "m1"):
        group.members[name] = process_message(group.members[name], proposal).state
    group.commit("m3", ())
    commit = Commit((ProposalOrRef(reference=reference),))
    assert_rejected(group.members["m1"], publish(group.members["m0"], commit), MissingProposal)


@pytest.mark.parametrize(
    ("proposals", "error"),
    [
        ((Remove(9),), InvalidMembership),
        ((Remove(2), Remove(2)), InvalidProposal),
        ((Remove(0),), InvalidProposal),
        ((ReInit(b"successor", 0x0001), Remove(2)), InvalidProposal),
        ((GroupContextExtensions(()), GroupContextExtensions(())), InvalidProposal),
        ((ExternalInit(bytes(32)),), InvalidProposal),
    ],
    ids=[
        "remove-of-no-member",
        "leaf-removed-twice",
        "committer-removes-itself",
        "reinit-with-others",
        "two-group-context-extensions",
        "external-init-from-member",
    ],
)
def test_invalid_proposal_list_is_rejected(
    group: Harness, proposals: tuple[Proposal, ...], error: type[MLSError]
) -> None:
    commit = by_value(*proposals)
    assert_rejected(group.members["m1"], publish(group.members["m0"], commit), error)


def test_remove_of_an_already_removed_leaf_is_rejected(group: Harness) -> None:
    group.remove("m0", "m3")
    assert_rejected(
        group.members["m1"], publish(group.members["m0"], by_value(Remove(3))), InvalidMembership
    )


def test_committers_own_update_is_rejected(group: Harness) -> None:
    proposal, group.members["m0"], reference = propose_update(group.members["m0"], group.rng)
    receiver = process_message(group.members["m1"], proposal).state
    commit = Commit((ProposalOrRef(reference=reference),))
    assert_rejected(receiver, publish(group.members["m0"], commit), InvalidProposal)


def test_update_and_remove_of_one_leaf_are_rejected(group: Harness) -> None:
    proposal, _, reference = propose_update(group.members["m2"], group.rng)
    committer = process_message(group.members["m0"], proposal).state
    receiver = process_message(group.members["m1"], proposal).state
    commit = Commit((ProposalOrRef(reference=reference), ProposalOrRef(proposal=Remove(2))))
    assert_rejected(receiver, publish(committer, commit), InvalidProposal)


def update_leaf(member: GroupState, source: int = SOURCE_UPDATE) -> LeafNode:
    """``member``'s leaf with a fresh encryption key and ``source``, signed for an Update."""
    public = member.suite.generate_key_pair(DeterministicRandom(b"update"))[1]
    leaf = replace(
        member.tree.member_leaf(member.leaf_index),
        encryption_key=public,
        leaf_node_source=source,
        lifetime=None,
        parent_hash=b"",
    )
    group_id = member.context.group_id
    return leaf.signed(member.suite, member.signature_key, group_id, member.leaf_index)


def commit_update_of_m2(group: Harness, leaf: LeafNode) -> tuple[GroupState, MLSMessage]:
    """m2 proposes an Update to ``leaf``; m0 commits it by reference with a path.
    Returns m1's state (having received the proposal) and the commit."""
    proposal, _, reference = propose(group.members["m2"], Update(leaf), group.rng)
    committer = process_message(group.members["m0"], proposal).state
    receiver = process_message(group.members["m1"], proposal).state
    path = path_of(commit_with_path(committer, (), group.rng))
    return receiver, publish(committer, Commit((ProposalOrRef(reference=reference),), path))


def test_update_leaf_with_wrong_source_is_rejected(group: Harness) -> None:
    """An Update proposal's leaf must have source ``update`` (RFC 9420 §12.1.2)."""
    leaf = update_leaf(group.members["m2"], SOURCE_COMMIT)
    assert_rejected(*commit_update_of_m2(group, leaf), InvalidLeafNode)


def test_update_leaf_with_a_bad_signature_is_rejected(group: Harness) -> None:
    leaf = update_leaf(group.members["m2"])
    leaf = replace(leaf, signature=bytes(len(leaf.signature)))
    assert_rejected(*commit_update_of_m2(group, leaf), InvalidSignature)


def test_update_by_value_from_the_committer_is_rejected(group: Harness) -> None:
    """RFC 9420 §12.2: a commit may not carry an Update from the committer itself."""
    leaf = update_leaf(group.members["m0"])
    forged = publish(group.members["m0"], by_value(Update(leaf)))
    assert_rejected(group.members["m1"], forged, InvalidProposal)


@pytest.mark.parametrize(
    "sender",
    [Sender(SENDER_EXTERNAL, 0), Sender(SENDER_NEW_MEMBER_PROPOSAL)],
    ids=["external-sender", "new-member-proposal"],
)
def test_proposal_from_a_non_member_is_rejected(group: Harness, sender: Sender) -> None:
    """Veil groups configure no external senders and take no external proposals."""
    forged = publish(group.members["m0"], Remove(2), sender=sender)
    assert_rejected(group.members["m1"], forged, InvalidMembership)


# --- the UpdatePath (RFC 9420 §7.3, §7.5, §12.4.2) -------------------------------------


@pytest.mark.parametrize("proposals", [(), (Remove(2),)], ids=["empty", "remove"])
def test_missing_path_is_rejected(group: Harness, proposals: tuple[Proposal, ...]) -> None:
    commit = by_value(*proposals)
    assert_rejected(group.members["m1"], publish(group.members["m0"], commit), InvalidCommit)


def test_path_with_a_node_too_few_is_rejected(group: Harness) -> None:
    good = commit_with_path(group.members["m0"], (), group.rng)
    path = path_of(good)
    short = replace(path, nodes=path.nodes[:-1])
    assert_rejected(
        group.members["m1"], resigned(group.members["m0"], good, path=short), InvalidCommit
    )


Sealed = tuple[HPKECiphertext, ...]


def with_ciphertexts(
    group: Harness, position: int, rework: Callable[[Sealed], Sealed]
) -> MLSMessage:
    """m0's commit with a path whose node at ``position`` carries ``rework``'s ciphertexts."""
    good = commit_with_path(group.members["m0"], (), group.rng)
    path = path_of(good)
    node = path.nodes[position]
    node = replace(node, encrypted_path_secret=rework(node.encrypted_path_secret))
    nodes = (*path.nodes[:position], node, *path.nodes[position + 1 :])
    return resigned(group.members["m0"], good, path=replace(path, nodes=nodes))


def test_path_node_with_a_ciphertext_too_few_is_rejected(group: Harness) -> None:
    """m0's root node is sealed to the resolution of leaves 2 and 3 (two ciphertexts)."""
    forged = with_ciphertexts(group, 1, lambda sealed: sealed[:-1])
    assert_rejected(group.members["m2"], forged, InvalidCommit)


def test_path_secret_that_does_not_decrypt_is_rejected(group: Harness) -> None:
    """m1 opens the first node's only ciphertext; here it is corrupted."""

    def corrupt(sealed: Sealed) -> Sealed:
        first = sealed[0]
        flipped = first.ciphertext[:-1] + bytes([first.ciphertext[-1] ^ 1])
        return (replace(first, ciphertext=flipped), *sealed[1:])

    assert_rejected(group.members["m1"], with_ciphertexts(group, 0, corrupt), InvalidCommit)


def with_path_leaf(group: Harness, rework: Callable[[LeafNode], LeafNode]) -> MLSMessage:
    """m0's commit with a path whose leaf ``rework`` changed, re-signed by m0."""
    member = group.members["m0"]
    good = commit_with_path(member, (), group.rng)
    path = path_of(good)
    leaf = rework(path.leaf_node)
    leaf = leaf.signed(group.suite, member.signature_key, member.context.group_id, 0)
    return resigned(member, good, path=replace(path, leaf_node=leaf))


def test_path_leaf_with_wrong_parent_hash_is_rejected(group: Harness) -> None:
    zeros = bytes(group.suite.hash_size)
    forged = with_path_leaf(group, lambda leaf: replace(leaf, parent_hash=zeros))
    assert_rejected(group.members["m1"], forged, InvalidCommit)


def test_path_leaf_with_wrong_source_is_rejected(group: Harness) -> None:
    forged = with_path_leaf(group, lambda leaf: replace(leaf, leaf_node_source=SOURCE_UPDATE))
    assert_rejected(group.members["m1"], forged, InvalidLeafNode)


def test_path_leaf_with_a_bad_signature_is_rejected(group: Harness) -> None:
    member = group.members["m0"]
    good = commit_with_path(member, (), group.rng)
    path = path_of(good)
    leaf = replace(path.leaf_node, signature=bytes(len(path.leaf_node.signature)))
    forged = resigned(member, good, path=replace(path, leaf_node=leaf))
    assert_rejected(group.members["m1"], forged, InvalidSignature)


def test_path_leaf_with_another_members_signature_key_is_rejected(group: Harness) -> None:
    """RFC 9420 §7.3: signature keys are unique among the members' leaves."""
    victim = group.members["m2"]

    def borrow(_: GroupState) -> tuple[bytes, bytes]:
        return victim.tree.member_leaf(2).signature_key, victim.signature_key

    forged = commit_with_path(group.members["m0"], (), group.rng, rework_leaf=borrow)
    assert_rejected(group.members["m1"], forged, InvalidLeafNode)
