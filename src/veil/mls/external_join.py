"""Joining without a Welcome: a member publishes a GroupInfo, and a newcomer commits
itself into the group from it (RFC 9420 §12.4.3.2). Members process that commit with
:func:`veil.mls.processing.process_message` like any other.
"""

from __future__ import annotations

from dataclasses import replace

from veil.crypto import RandomSource
from veil.mls.codec import TlsReader, TlsWriter, decode
from veil.mls.errors import InvalidGroupInfo
from veil.mls.external import EXTENSION_EXTERNAL_PUB, EXTERNAL_INIT_LABEL
from veil.mls.framing import (
    SENDER_NEW_MEMBER_COMMIT,
    WIRE_PUBLIC,
    AuthenticatedContent,
    FramedContent,
    MLSMessage,
    PublicMessage,
    Sender,
)
from veil.mls.group_context import Extension
from veil.mls.group_state import (
    EXTENSION_RATCHET_TREE,
    GroupConfig,
    GroupState,
    validate_tree,
)
from veil.mls.key_schedule import EpochSecrets, interim_transcript_hash
from veil.mls.leaf_node import Lifetime
from veil.mls.nodes import decode_ratchet_tree
from veil.mls.operations import new_key_package
from veil.mls.processing import advance_epoch
from veil.mls.proposals import Commit, ExternalInit, ProposalOrRef
from veil.mls.protection import confirmation_tag, sign_content
from veil.mls.ratchet_tree import RatchetTree
from veil.mls.secret_tree import SecretTree
from veil.mls.suites import suite_by_id
from veil.mls.treekem import create_update_path
from veil.mls.welcome import GroupInfo

__all__ = ["group_info_for_joiners", "join_by_external_commit"]


def group_info_for_joiners(state: GroupState) -> MLSMessage:
    """A signed GroupInfo with the ratchet tree and the external public key."""
    suite = state.suite
    tag = confirmation_tag(
        suite, state.secrets.confirmation_key, state.context.confirmed_transcript_hash
    )
    external_pub = TlsWriter().opaque(state.secrets.external_public_key(suite)).build()
    extensions = (
        Extension(EXTENSION_RATCHET_TREE, state.tree.to_bytes()),
        Extension(EXTENSION_EXTERNAL_PUB, external_pub),
    )
    info = GroupInfo(state.context, extensions, tag, state.leaf_index)
    return MLSMessage(info.signed(suite, state.signature_key))


def _extension(group_info: GroupInfo, kind: int) -> bytes:
    for extension in group_info.extensions:
        if extension.extension_type == kind:
            return extension.extension_data
    raise InvalidGroupInfo(f"the GroupInfo lacks extension {kind}")


def join_by_external_commit(
    group_info: GroupInfo,
    rng: RandomSource,
    lifetime: Lifetime,
    config: GroupConfig | None = None,
    supported_extensions: tuple[int, ...] = (),
) -> tuple[MLSMessage, GroupState]:
    """Commit ourselves into the group described by ``group_info``; returns the commit
    to send and the state to adopt once the group's log accepts it."""
    context = group_info.group_context
    suite = suite_by_id(context.cipher_suite)
    tree = RatchetTree(
        suite, decode(_extension(group_info, EXTENSION_RATCHET_TREE), decode_ratchet_tree)
    )
    validate_tree(tree, context)
    group_info.verify(suite, tree.member_leaf(group_info.signer).signature_key)
    external_pub = decode(_extension(group_info, EXTENSION_EXTERNAL_PUB), TlsReader.opaque)
    kem_output, hpke_context = suite.setup_base_sender(external_pub, b"", rng)
    init_secret = hpke_context.export(EXTERNAL_INIT_LABEL, suite.hash_size)
    package, keys = new_key_package(suite, rng, lifetime, supported_extensions)
    leaf_index = tree.add_leaf(package.leaf_node)
    provisional = replace(context, epoch=context.epoch + 1)
    path, secrets, private = create_update_path(
        tree,
        leaf_index,
        package.leaf_node,
        signature_key=keys.signature_private,
        group_id=context.group_id,
        excluded=set(),
        context_for=lambda tree_hash: replace(provisional, tree_hash=tree_hash).to_bytes(),
        rng=rng,
    )
    commit = Commit((ProposalOrRef(proposal=ExternalInit(kem_output)),), path)
    sender = Sender(SENDER_NEW_MEMBER_COMMIT)
    content = FramedContent(context.group_id, context.epoch, sender, b"", commit)
    signature = sign_content(suite, keys.signature_private, WIRE_PUBLIC, content, context)
    config = config or GroupConfig()
    placeholder = EpochSecrets(*([b""] * 12))  # replaced by advance_epoch below
    state = GroupState(
        suite,
        context,
        tree,
        private,
        placeholder,
        SecretTree(suite, b"", 1, config.secret_tree),
        interim_transcript_hash(
            suite, context.confirmed_transcript_hash, group_info.confirmation_tag
        ),
        keys.signature_private,
        config,
    )
    unconfirmed = AuthenticatedContent(WIRE_PUBLIC, content, signature)
    zero = bytes(suite.hash_size)
    tag = advance_epoch(state, unconfirmed, secrets.commit_secret, zero, init_secret=init_secret)
    return MLSMessage(PublicMessage(content, signature, tag, None)), state
