"""The active side of a group: key packages, creation, proposals, commits, Welcomes,
and application messages (RFC 9420 §10, §11, §12.1, §12.4.1, §12.4.3).

Credentials are ``basic`` with a random per-group member handle as the identity, and
every key package carries a fresh signature key, so nothing in one group links a
member to another group or to a 1:1 connection (see docs/protocol/mls.md).

Every function returns a new :class:`GroupState` and leaves the given one untouched;
a committer adopts the returned state once its commit is accepted by the group's log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from veil.crypto import RandomSource
from veil.mls.errors import InvalidCommit, MustCommitFirst
from veil.mls.framing import (
    SENDER_MEMBER,
    WIRE_PRIVATE,
    WIRE_PUBLIC,
    AuthenticatedContent,
    Content,
    FramedContent,
    MLSMessage,
    PublicMessage,
    Sender,
)
from veil.mls.group_context import Extension, GroupContext
from veil.mls.group_state import (
    EXTENSION_RATCHET_TREE,
    GroupConfig,
    GroupState,
    JoinKeys,
    common_ancestor,
)
from veil.mls.key_schedule import (
    PreSharedKeyID,
    derive_epoch_secrets,
    interim_transcript_hash,
    joiner_secret,
)
from veil.mls.leaf_node import (
    CREDENTIAL_BASIC,
    SOURCE_KEY_PACKAGE,
    SOURCE_UPDATE,
    Capabilities,
    Credential,
    KeyPackage,
    LeafNode,
    Lifetime,
)
from veil.mls.processing import (
    Processed,
    advance_epoch,
    apply_proposals,
    path_required,
    process_message,
    proposal_reference,
    validate_proposals,
)
from veil.mls.proposals import Add, Commit, Proposal, ProposalOrRef, Update
from veil.mls.protection import (
    Padding,
    confirmation_tag,
    encrypt_private,
    membership_tag,
    sign_content,
)
from veil.mls.ratchet_tree import RatchetTree
from veil.mls.secret_tree import SecretTree
from veil.mls.suites import CipherSuite
from veil.mls.treekem import PathSecrets, TreePrivateKeys, create_update_path
from veil.mls.welcome import (
    EncryptedGroupSecrets,
    GroupInfo,
    GroupSecrets,
    Welcome,
    seal_group_info,
    seal_group_secrets,
)

__all__ = [
    "CommitResult",
    "create_commit",
    "create_group",
    "encrypt_application",
    "new_key_package",
    "process_from_log",
    "propose",
    "propose_update",
]

HANDLE_SIZE = 16


def new_key_package(
    suite: CipherSuite,
    rng: RandomSource,
    lifetime: Lifetime,
    supported_extensions: tuple[int, ...] = (),
) -> tuple[KeyPackage, JoinKeys]:
    """A key package for joining one group: a fresh random handle, fresh keys. The
    leaf declares ``supported_extensions`` (the non-default GroupContext extension
    types the application uses) in its capabilities."""
    init_private, init_public = suite.generate_key_pair(rng)
    encryption_private, encryption_public = suite.generate_key_pair(rng)
    signature_private, signature_public = suite.generate_signature_key(rng)
    leaf = LeafNode(
        encryption_public,
        signature_public,
        Credential(CREDENTIAL_BASIC, identity=rng.random_bytes(HANDLE_SIZE)),
        Capabilities(cipher_suites=(suite.suite_id,), extensions=supported_extensions),
        SOURCE_KEY_PACKAGE,
        lifetime,
    ).signed(suite, signature_private, b"", 0)
    package = KeyPackage(suite.suite_id, init_public, leaf).signed(suite, signature_private)
    return package, JoinKeys(init_private, encryption_private, signature_private)


def create_group(
    suite: CipherSuite,
    group_id: bytes,
    rng: RandomSource,
    lifetime: Lifetime,
    config: GroupConfig | None = None,
    *,
    extensions: tuple[Extension, ...] = (),
    creator: tuple[KeyPackage, JoinKeys] | None = None,
) -> GroupState:
    """A one-member group in epoch 0 (RFC 9420 §11); its GroupContext carries
    ``extensions``, whose types the creator's leaf declares as supported. ``creator``
    is the creator's own key package and keys, when the caller needs its handle first."""
    supported = tuple(e.extension_type for e in extensions)
    package, keys = creator or new_key_package(suite, rng, lifetime, supported)
    tree = RatchetTree(suite, [package.leaf_node])
    private = TreePrivateKeys(0, {0: (keys.encryption_private, package.leaf_node.encryption_key)})
    context = GroupContext(suite.suite_id, group_id, 0, tree.tree_hash(), b"", extensions)
    zero = bytes(suite.hash_size)
    joiner = joiner_secret(suite, rng.random_bytes(suite.hash_size), zero, context.to_bytes())
    secrets = derive_epoch_secrets(suite, joiner, zero, context.to_bytes())
    tag = confirmation_tag(suite, secrets.confirmation_key, b"")
    config = config or GroupConfig()
    return GroupState(
        suite,
        context,
        tree,
        private,
        secrets,
        SecretTree(suite, secrets.encryption_secret, 1, config.secret_tree),
        interim_transcript_hash(suite, b"", tag),
        keys.signature_private,
        config,
        resumption_psks={0: secrets.resumption_psk},
    )


def _frame(
    state: GroupState,
    body: Content,
    wire_format: int,
    rng: RandomSource,
    padding: Padding | None,
) -> tuple[MLSMessage, AuthenticatedContent]:
    """Sign ``body`` as this member in the current epoch and wrap it for sending."""
    content = FramedContent(
        state.context.group_id,
        state.context.epoch,
        Sender(SENDER_MEMBER, state.leaf_index),
        b"",
        body,
    )
    signature = sign_content(state.suite, state.signer, wire_format, content, state.context)
    authenticated = AuthenticatedContent(wire_format, content, signature)
    return _wrap(state, authenticated, rng, padding), authenticated


def _wrap(
    state: GroupState,
    authenticated: AuthenticatedContent,
    rng: RandomSource,
    padding: Padding | None,
) -> MLSMessage:
    if authenticated.wire_format == WIRE_PRIVATE:
        if state.restored:
            raise MustCommitFirst("restored state: commit (as a PublicMessage) before sending")
        sealed = encrypt_private(
            state.suite,
            authenticated,
            state.secret_tree,
            state.secrets.sender_data_secret,
            rng,
            padding=padding,
        )
        return MLSMessage(sealed)
    tag = membership_tag(state.suite, state.secrets.membership_key, authenticated, state.context)
    content = authenticated.content
    return MLSMessage(
        PublicMessage(content, authenticated.signature, authenticated.confirmation_tag, tag)
    )


def encrypt_application(
    state: GroupState, data: bytes, rng: RandomSource, padding: Padding | None = None
) -> tuple[MLSMessage, GroupState]:
    """A PrivateMessage carrying application data; the new state has moved its ratchet."""
    work = state.copy(with_tree=False)
    message, _ = _frame(work, data, WIRE_PRIVATE, rng, padding)
    return message, work


def propose(
    state: GroupState, proposal: Proposal, rng: RandomSource, *, private: bool = False
) -> tuple[MLSMessage, GroupState, bytes]:
    """Send a proposal; returns the message, the new state and the ProposalRef."""
    work = state.copy(with_tree=False)
    message, authenticated = _frame(
        work, proposal, WIRE_PRIVATE if private else WIRE_PUBLIC, rng, None
    )
    reference = proposal_reference(work, authenticated)
    work.proposals[reference] = (proposal, authenticated.content.sender)
    return message, work, reference


def propose_update(state: GroupState, rng: RandomSource) -> tuple[MLSMessage, GroupState, bytes]:
    """Propose a fresh encryption key for our own leaf; whoever commits it, we keep its
    private key until the epoch ends."""
    private, public = state.suite.generate_key_pair(rng)
    leaf = replace(
        state.tree.member_leaf(state.leaf_index),
        encryption_key=public,
        leaf_node_source=SOURCE_UPDATE,
        lifetime=None,
        parent_hash=b"",
    ).signed(state.suite, state.signature_key, state.context.group_id, state.leaf_index)
    message, work, reference = propose(state, Update(leaf), rng)
    work.pending_leaf_keys[public] = private
    return message, work, reference


@dataclass(frozen=True, slots=True)
class CommitResult:
    """A commit to send, the Welcome for new members (if any), and our next state."""

    message: MLSMessage
    welcome: MLSMessage | None
    state: GroupState
    commit: Commit


def process_from_log(
    state: GroupState,
    message: MLSMessage,
    pending: CommitResult | None = None,
    external_psks: Mapping[bytes, bytes] | None = None,
) -> Processed:
    """Process the next message of the group's ordered log. If it is our own pending
    commit coming back (byte for byte), adopt the state prepared with it; if another
    commit won the epoch, ``pending`` is simply dropped by the caller."""
    if pending is not None and message.to_bytes() == pending.message.to_bytes():
        return Processed(pending.state, pending.commit, Sender(SENDER_MEMBER, state.leaf_index))
    return process_message(state, message, external_psks)


def create_commit(
    state: GroupState,
    rng: RandomSource,
    *,
    by_value: tuple[Proposal, ...] = (),
    by_reference: tuple[bytes, ...] = (),
    with_path: bool = True,
    private: bool = False,
    external_psks: Mapping[bytes, bytes] | None = None,
) -> CommitResult:
    """Commit proposals (by value, and received ones by reference), with or without a path."""
    old, work = state, state.copy()
    me = old.leaf_index
    entries = [ProposalOrRef(reference=r) for r in by_reference]
    entries += [ProposalOrRef(proposal=p) for p in by_value]
    resolved = [(old.proposals[r][0], old.proposals[r][1].index) for r in by_reference]
    resolved += [(p, me) for p in by_value]
    validate_proposals(old, resolved, me)
    if not with_path and path_required(resolved):
        raise InvalidCommit("these proposals need a commit with an UpdatePath")
    added, psks = apply_proposals(work, resolved)
    work.private.prune(work.tree)
    commit_secret, path, path_secrets = bytes(old.suite.hash_size), None, None
    if with_path:
        provisional = replace(work.context, epoch=old.context.epoch + 1)
        path, path_secrets, work.private = create_update_path(
            work.tree,
            me,
            work.tree.member_leaf(me),
            signature_key=old.signature_key,
            group_id=old.context.group_id,
            excluded=added,
            context_for=lambda tree_hash: replace(provisional, tree_hash=tree_hash).to_bytes(),
            rng=rng,
        )
        commit_secret = path_secrets.commit_secret
    commit = Commit(tuple(entries), path)
    wire_format = WIRE_PRIVATE if private else WIRE_PUBLIC
    content = FramedContent(
        old.context.group_id, old.context.epoch, Sender(SENDER_MEMBER, me), b"", commit
    )
    signature = sign_content(old.suite, old.signature_key, wire_format, content, old.context)
    unconfirmed = AuthenticatedContent(wire_format, content, signature)
    psk_secret = work.psk_secret(psks, external_psks or {})
    tag = advance_epoch(work, unconfirmed, commit_secret, psk_secret)
    authenticated = replace(unconfirmed, confirmation_tag=tag)
    message = _wrap(old.copy(with_tree=False), authenticated, rng, None)
    welcome = _welcome(work, resolved, added, tag, rng, path_secrets=path_secrets, psks=psks)
    return CommitResult(message, welcome, work, commit)


def _welcome(
    state: GroupState,
    resolved: list[tuple[Proposal, int]],
    added: set[int],
    tag: bytes,
    rng: RandomSource,
    *,
    path_secrets: PathSecrets | None,
    psks: list[PreSharedKeyID],
) -> MLSMessage | None:
    packages = [p.key_package for p, _ in resolved if isinstance(p, Add)]
    if not packages:
        return None
    suite = state.suite
    tree_extension = Extension(EXTENSION_RATCHET_TREE, state.tree.to_bytes())
    group_info = GroupInfo(state.context, (tree_extension,), tag, state.leaf_index)
    group_info = group_info.signed(suite, state.signature_key)
    encrypted_group_info = seal_group_info(suite, state.secrets.welcome_secret, group_info)
    recipients = []
    for package, leaf in zip(packages, sorted(added), strict=True):
        path_secret = None
        if path_secrets is not None:
            path_secret = path_secrets.by_node.get(
                common_ancestor(state.leaf_index, leaf, state.tree.n_leaves)
            )
        secrets = GroupSecrets(state.secrets.joiner_secret, path_secret, tuple(psks))
        recipients.append((package.init_key, secrets))
    sealed = seal_group_secrets(suite, encrypted_group_info, recipients, rng)
    entries = tuple(
        EncryptedGroupSecrets(package.reference(suite), ciphertext)
        for package, ciphertext in zip(packages, sealed, strict=True)
    )
    return MLSMessage(Welcome(suite.suite_id, entries, encrypted_group_info))
