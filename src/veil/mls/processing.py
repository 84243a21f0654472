"""Processing handshake messages: proposals and commits (RFC 9420 §12.1-§12.4.2).

:func:`process_message` takes a state and an MLSMessage and returns a new state; the
given state is never modified, so a rejected message (each rule its own error) leaves
the member exactly where it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from veil.mls import tree_math
from veil.mls.codec import TlsWriter
from veil.mls.errors import (
    InvalidCommit,
    InvalidConfirmationTag,
    InvalidMembership,
    InvalidProposal,
    MissingProposal,
    WrongContentType,
    WrongEpoch,
    WrongGroup,
)
from veil.mls.external import external_init_secret, validate_external_proposals
from veil.mls.framing import (
    APPLICATION,
    COMMIT,
    SENDER_MEMBER,
    SENDER_NEW_MEMBER_COMMIT,
    WIRE_PUBLIC,
    AuthenticatedContent,
    MLSMessage,
    PrivateMessage,
    PublicMessage,
    Sender,
)
from veil.mls.group_state import GroupState
from veil.mls.key_schedule import (
    PreSharedKeyID,
    confirmed_transcript_hash,
    derive_epoch_secrets,
    interim_transcript_hash,
    joiner_secret,
)
from veil.mls.leaf_node import SOURCE_COMMIT, SOURCE_UPDATE
from veil.mls.leaf_validation import check_key_package, check_leaf_node
from veil.mls.proposal_rules import check_group_context_extensions, check_psk_proposals
from veil.mls.proposals import (
    Add,
    Commit,
    ExternalInit,
    GroupContextExtensions,
    PreSharedKey,
    Proposal,
    ReInit,
    Remove,
    Update,
)
from veil.mls.protection import (
    confirmation_tag,
    decrypt_private,
    public_authenticated,
    verify_content,
    verify_membership_tag,
)
from veil.mls.secret_tree import SecretTree
from veil.mls.treekem import apply_update_path

__all__ = [
    "Processed",
    "advance_epoch",
    "apply_proposals",
    "path_required",
    "process_message",
    "proposal_reference",
    "resolve_proposals",
    "validate_proposals",
]


@dataclass(frozen=True, slots=True)
class Processed:
    """The outcome of one message: the new state and what the message carried."""

    state: GroupState
    content: bytes | Proposal | Commit
    sender: Sender
    removed: bool = False
    reinit: ReInit | None = None
    """Set when the commit ends the group for a ReInit: send nothing more in it; the
    caller starts the successor group (with a resumption PSK of usage ``reinit``)."""


def proposal_reference(state: GroupState, authenticated: AuthenticatedContent) -> bytes:
    """``ProposalRef``: ``RefHash("MLS 1.0 Proposal Reference", AuthenticatedContent)``."""
    writer = TlsWriter()
    authenticated.encode(writer)
    return state.suite.ref_hash(b"MLS 1.0 Proposal Reference", writer.build())


def _open(state: GroupState, message: MLSMessage) -> AuthenticatedContent:
    """Check group and epoch, decrypt or check the membership tag, verify the signature."""
    body = message.body
    if not isinstance(body, PublicMessage | PrivateMessage):
        raise WrongContentType("only Public and Private messages are processed in a group")
    group_id = body.content.group_id if isinstance(body, PublicMessage) else body.group_id
    epoch = body.content.epoch if isinstance(body, PublicMessage) else body.epoch
    if group_id != state.context.group_id:
        raise WrongGroup("the message is for another group")
    if epoch != state.context.epoch:
        raise WrongEpoch(f"the message is for epoch {epoch}, we are in {state.context.epoch}")
    if isinstance(body, PublicMessage):
        verify_membership_tag(state.suite, state.secrets.membership_key, body, state.context)
        authenticated = public_authenticated(body)
    else:
        opened = decrypt_private(
            state.suite, body, state.secret_tree, state.secrets.sender_data_secret
        )
        authenticated = opened.authenticated
    verify_content(state.suite, _signer_key(state, authenticated), authenticated, state.context)
    if isinstance(body, PrivateMessage):
        opened.consume(state.secret_tree)
    return authenticated


def _signer_key(state: GroupState, authenticated: AuthenticatedContent) -> bytes:
    """Members sign with their leaf's key; an external joiner with its new leaf's."""
    sender, body = authenticated.content.sender, authenticated.content.content
    if sender.sender_type == SENDER_MEMBER:
        return state.tree.member_leaf(sender.index).signature_key
    is_public = authenticated.wire_format == WIRE_PUBLIC
    if sender.sender_type == SENDER_NEW_MEMBER_COMMIT and is_public and isinstance(body, Commit):
        if body.path is None:
            raise InvalidCommit("an external commit must carry an UpdatePath")
        return body.path.leaf_node.signature_key
    raise InvalidMembership("only members and external committers are accepted")


def process_message(
    state: GroupState, message: MLSMessage, external_psks: Mapping[bytes, bytes] | None = None
) -> Processed:
    """Process one message from the group; ``state`` itself is left unchanged."""
    work = state.copy(with_tree=False)
    authenticated = _open(work, message)
    content = authenticated.content
    if content.content_type == APPLICATION:
        return Processed(work, content.content, content.sender)
    if content.content_type != COMMIT:
        proposal = content.content
        assert not isinstance(proposal, bytes | Commit)
        work.proposals[proposal_reference(work, authenticated)] = (proposal, content.sender)
        return Processed(work, proposal, content.sender)
    work.tree, work.private = state.tree.copy(), state.private.copy()
    return _process_commit(work, authenticated, external_psks or {})


def resolve_proposals(
    state: GroupState, commit: Commit, committer: int
) -> list[tuple[Proposal, int]]:
    """The commit's proposals with their senders: by value from the committer, by
    reference from this epoch's received proposals (MissingProposal if unknown)."""
    resolved: list[tuple[Proposal, int]] = []
    for entry in commit.proposals:
        if entry.proposal is not None:
            resolved.append((entry.proposal, committer))
            continue
        found = state.proposals.get(entry.reference)
        if found is None:
            raise MissingProposal(f"proposal {entry.reference.hex()} was never received")
        resolved.append((found[0], found[1].index))
    return resolved


def validate_proposals(
    state: GroupState, proposals: list[tuple[Proposal, int]], committer: int
) -> None:
    """The RFC 9420 §12.2 rules a passive member can check."""
    kinds = [type(p) for p, _ in proposals]
    touched: set[int] = set()
    for proposal, sender in proposals:
        if isinstance(proposal, Update | Remove):
            leaf = sender if isinstance(proposal, Update) else proposal.removed
            if leaf in touched:
                raise InvalidProposal(f"leaf {leaf} is updated or removed twice")
            touched.add(leaf)
        if isinstance(proposal, Update) and sender == committer:
            raise InvalidProposal("a committer may not commit its own Update")
        if isinstance(proposal, Remove):
            if proposal.removed == committer:
                raise InvalidProposal("a committer may not remove itself")
            state.tree.member_leaf(proposal.removed)
        if isinstance(proposal, ExternalInit):
            raise InvalidProposal("ExternalInit is only valid in an external commit")
    if ReInit in kinds and len(kinds) > 1:
        raise InvalidProposal("a ReInit must be the only proposal in a commit")
    if kinds.count(GroupContextExtensions) > 1:
        raise InvalidProposal("at most one GroupContextExtensions per commit")
    check_psk_proposals(proposals, state.suite.hash_size)
    for proposal, _ in proposals:
        if isinstance(proposal, GroupContextExtensions):
            check_group_context_extensions(state.tree, proposal)


def path_required(proposals: list[tuple[Proposal, int]]) -> bool:
    """Whether RFC 9420 §12.4 requires an UpdatePath: an empty commit, or one with an
    Update, Remove or GroupContextExtensions."""
    return not proposals or any(
        isinstance(p, Update | Remove | GroupContextExtensions) for p, _ in proposals
    )


def apply_proposals(
    state: GroupState, proposals: list[tuple[Proposal, int]]
) -> tuple[set[int], list[PreSharedKeyID]]:
    """Apply the proposals to the tree and context in RFC order; return the new leaves
    and the PSK ids."""
    for proposal, _ in proposals:
        if isinstance(proposal, GroupContextExtensions):
            state.context = replace(state.context, extensions=proposal.extensions)
    used: set[bytes] = set()
    for proposal, sender in proposals:
        if isinstance(proposal, Update):
            proposal.leaf_node.verify(state.suite, state.context.group_id, sender)
            check_leaf_node(state.tree, proposal.leaf_node, SOURCE_UPDATE, sender, used)
            state.tree.update_leaf(sender, proposal.leaf_node)
    for proposal, _ in proposals:
        if isinstance(proposal, Remove):
            state.tree.remove_leaf(proposal.removed)
    added: set[int] = set()
    for proposal, _ in proposals:
        if isinstance(proposal, Add):
            check_key_package(state.tree, proposal.key_package, used)
            added.add(state.tree.add_leaf(proposal.key_package.leaf_node))
    psks = [p.psk for p, _ in proposals if isinstance(p, PreSharedKey)]
    return added, psks


def _process_commit(
    state: GroupState, authenticated: AuthenticatedContent, external_psks: Mapping[bytes, bytes]
) -> Processed:
    content = authenticated.content
    commit = content.content
    assert isinstance(commit, Commit)
    external = content.sender.sender_type == SENDER_NEW_MEMBER_COMMIT
    committer = -1 if external else content.sender.index
    if committer == state.leaf_index:
        raise InvalidCommit("our own commit comes back: apply it with the pending state")
    proposals = resolve_proposals(state, commit, committer)
    init_secret = None
    if external:
        init_secret = external_init_secret(state, validate_external_proposals(proposals))
        check_psk_proposals(proposals, state.suite.hash_size)
    else:
        validate_proposals(state, proposals, committer)
    if commit.path is None and path_required(proposals):
        raise InvalidCommit("this commit must carry an UpdatePath")
    old_context = state.context
    added, psks = apply_proposals(state, proposals)
    own_leaf = state.tree.leaf(state.leaf_index)
    if own_leaf is None:
        return Processed(state, commit, content.sender, removed=True)
    if own_leaf.encryption_key in state.pending_leaf_keys:  # our Update was committed
        own_private = state.pending_leaf_keys[own_leaf.encryption_key]
        own_node = tree_math.node_of_leaf(state.leaf_index)
        state.private.keys[own_node] = (own_private, own_leaf.encryption_key)
    if external and commit.path is not None:
        joiner = commit.path.leaf_node
        check_leaf_node(state.tree, joiner, SOURCE_COMMIT, None, set())
        committer = state.tree.add_leaf(joiner)
    state.private.prune(state.tree)
    commit_secret = bytes(state.suite.hash_size)
    if commit.path is not None:
        if not external:
            check_leaf_node(state.tree, commit.path.leaf_node, SOURCE_COMMIT, committer, set())
        provisional = replace(state.context, epoch=old_context.epoch + 1)
        secrets = apply_update_path(
            state.tree,
            committer,
            commit.path,
            group_id=old_context.group_id,
            excluded=added,
            context_for=lambda tree_hash: replace(provisional, tree_hash=tree_hash).to_bytes(),
            private=state.private,
        )
        commit_secret = secrets.commit_secret
    psk_secret = state.psk_secret(psks, external_psks)
    advance_epoch(state, authenticated, commit_secret, psk_secret, init_secret=init_secret)
    reinit = next((p for p, _ in proposals if isinstance(p, ReInit)), None)
    return Processed(state, commit, content.sender, reinit=reinit)


def _remember_resumption_psk(state: GroupState) -> None:
    state.resumption_psks[state.context.epoch] = state.secrets.resumption_psk
    for epoch in sorted(state.resumption_psks)[: -state.config.resumption_epochs]:
        del state.resumption_psks[epoch]


def advance_epoch(
    state: GroupState,
    authenticated: AuthenticatedContent,
    commit_secret: bytes,
    psk_secret: bytes,
    *,
    init_secret: bytes | None = None,
) -> bytes:
    """Move ``state`` (already holding the new tree) to the next epoch for this commit:
    transcript hashes, GroupContext, key schedule, secret tree. Returns the confirmation
    tag; if the commit carries one, it must match (InvalidConfirmationTag). An external
    commit supplies the ``init_secret`` its ExternalInit yields."""
    old_init_secret = state.secrets.init_secret if init_secret is None else init_secret
    confirmed = confirmed_transcript_hash(
        state.suite, state.interim_transcript_hash, authenticated.confirmed_transcript_input()
    )
    state.context = replace(
        state.context,
        epoch=state.context.epoch + 1,
        tree_hash=state.tree.tree_hash(),
        confirmed_transcript_hash=confirmed,
    )
    context_bytes = state.context.to_bytes()
    joiner = joiner_secret(state.suite, old_init_secret, commit_secret, context_bytes)
    state.secrets = derive_epoch_secrets(state.suite, joiner, psk_secret, context_bytes)
    tag = confirmation_tag(state.suite, state.secrets.confirmation_key, confirmed)
    if authenticated.confirmation_tag is not None and tag != authenticated.confirmation_tag:
        raise InvalidConfirmationTag("the commit's confirmation tag is wrong")
    state.interim_transcript_hash = interim_transcript_hash(state.suite, confirmed, tag)
    state.secret_tree = SecretTree(
        state.suite, state.secrets.encryption_secret, state.tree.n_leaves, state.config.secret_tree
    )
    state.proposals = {}
    state.pending_leaf_keys = {}
    state.restored = False
    _remember_resumption_psk(state)
    return tag
