"""Forging handshake messages as an insider, for the RFC 9420 §12 rejection tests.

An insider holds the group's membership key and its own signature key, so what it
forges passes the membership tag and the signature and reaches the rule under test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from helpers.mls_groups import Harness
from veil.crypto import DeterministicRandom
from veil.mls.errors import MLSError
from veil.mls.framing import (
    SENDER_MEMBER,
    WIRE_PUBLIC,
    AuthenticatedContent,
    Content,
    FramedContent,
    MLSMessage,
    PublicMessage,
    Sender,
)
from veil.mls.group_state import GroupState
from veil.mls.operations import create_commit
from veil.mls.processing import advance_epoch, apply_proposals, process_message
from veil.mls.proposals import Commit, Proposal, ProposalOrRef, UpdatePath
from veil.mls.protection import membership_tag, sign_content
from veil.mls.state_codec import encode_state
from veil.mls.suites import CipherSuite, suite_by_id
from veil.mls.treekem import create_update_path

SUITE = suite_by_id(0x0001)


def four_members(suite: CipherSuite = SUITE) -> Harness:
    """Members m0..m3 in epoch 1; m0 created the group and added the others."""
    harness = Harness.start(suite, b"validation")
    harness.commit("m0", (), new=3)
    return harness


def assert_rejected(
    state: GroupState,
    message: MLSMessage,
    error: type[MLSError],
    external_psks: dict[bytes, bytes] | None = None,
) -> None:
    """``message`` raises ``error`` (not merely some MLSError) and ``state`` is unchanged."""
    before = encode_state(state)
    with pytest.raises(error) as raised:
        process_message(state, message, external_psks)
    assert type(raised.value) is error, f"{type(raised.value).__name__}: {raised.value}"
    assert encode_state(state) == before


def publish(
    state: GroupState,
    body: Content,
    *,
    tag: bytes | None = None,
    signer: bytes | None = None,
    sender: Sender | None = None,
) -> MLSMessage:
    """``body`` as a PublicMessage from ``state``'s member, signed (by ``signer`` if
    given) and tagged with the group's membership key; a commit gets ``tag`` or a
    confirmation tag of zeros."""
    sender = sender or Sender(SENDER_MEMBER, state.leaf_index)
    context = state.context
    content = FramedContent(context.group_id, context.epoch, sender, b"", body)
    signature = sign_content(
        state.suite, signer or state.signature_key, WIRE_PUBLIC, content, context
    )
    if isinstance(body, Commit):
        tag = tag if tag is not None else bytes(state.suite.hash_size)
    authenticated = AuthenticatedContent(WIRE_PUBLIC, content, signature, tag)
    mac = membership_tag(state.suite, state.secrets.membership_key, authenticated, context)
    return MLSMessage(PublicMessage(content, signature, tag, mac))


def commit_with_path(
    state: GroupState,
    proposals: tuple[Proposal, ...],
    rng: DeterministicRandom,
    *,
    rework_leaf: Callable[[GroupState], tuple[bytes, bytes]] | None = None,
) -> MLSMessage:
    """A well-formed commit with a path and a correct confirmation tag, as
    ``create_commit`` would make it, except that ``rework_leaf`` may choose the path
    leaf's (signature public key, signature private key)."""
    me, work = state.leaf_index, state.copy()
    added, psks = apply_proposals(work, [(p, me) for p in proposals])
    work.private.prune(work.tree)
    leaf, signing_key = work.tree.member_leaf(me), state.signature_key
    if rework_leaf is not None:
        public, signing_key = rework_leaf(state)
        leaf = replace(leaf, signature_key=public)
    provisional = replace(work.context, epoch=state.context.epoch + 1)
    path, secrets, work.private = create_update_path(
        work.tree,
        me,
        leaf,
        signature_key=signing_key,
        group_id=state.context.group_id,
        excluded=added,
        context_for=lambda tree_hash: replace(provisional, tree_hash=tree_hash).to_bytes(),
        rng=rng,
    )
    commit = Commit(tuple(ProposalOrRef(proposal=p) for p in proposals), path)
    unsigned = publish(state, commit)
    body = unsigned.body
    assert isinstance(body, PublicMessage)
    authenticated = AuthenticatedContent(WIRE_PUBLIC, body.content, body.signature)
    psk_secret = work.psk_secret(psks, {})
    tag = advance_epoch(work, authenticated, secrets.commit_secret, psk_secret)
    return publish(state, commit, tag=tag)


def resigned(state: GroupState, message: MLSMessage, *, path: UpdatePath) -> MLSMessage:
    """``message`` (a commit from ``state``'s member) with ``path`` instead, and the
    signature and membership tag made valid again; the confirmation tag is kept."""
    body = message.body
    assert isinstance(body, PublicMessage) and isinstance(body.content.content, Commit)
    commit = replace(body.content.content, path=path)
    return publish(state, commit, tag=body.confirmation_tag)


def valid_commit(group: Harness, committer: str, *proposals: Proposal) -> MLSMessage:
    """A commit ``committer`` makes with the real operations API."""
    return create_commit(group.members[committer], group.rng, by_value=proposals).message


def by_value(*proposals: Proposal) -> Commit:
    """A commit carrying ``proposals`` by value, without a path."""
    return Commit(tuple(ProposalOrRef(proposal=p) for p in proposals))


def path_of(message: MLSMessage) -> UpdatePath:
    """The UpdatePath of a commit message."""
    body = message.body
    assert isinstance(body, PublicMessage) and isinstance(body.content.content, Commit)
    assert body.content.content.path is not None
    return body.content.content.path
