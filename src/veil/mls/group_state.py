"""One member's view of a group in one epoch, and joining it from a Welcome (§12.4.3).

A :class:`GroupState` is replaced as a whole when an epoch ends: processing works on a
copy and the caller keeps the old state if anything fails, so a rejected message leaves
nothing changed. The previous epoch's secrets are not carried over (only its
resumption PSK, for the configured number of epochs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from veil.mls import tree_math
from veil.mls.codec import decode
from veil.mls.errors import (
    InvalidConfirmationTag,
    InvalidGroupInfo,
    InvalidTree,
    InvalidWelcome,
    MissingPskSecret,
    NoMatchingKeyPackage,
    UnsupportedCipherSuite,
)
from veil.mls.framing import Sender
from veil.mls.group_context import GroupContext
from veil.mls.key_schedule import (
    PSK_EXTERNAL,
    EpochSecrets,
    PreSharedKeyID,
    derive_epoch_secrets,
    derive_psk_secret,
    interim_transcript_hash,
    welcome_secret,
)
from veil.mls.leaf_node import KeyPackage
from veil.mls.nodes import Node, ParentNode, decode_ratchet_tree
from veil.mls.proposals import Proposal
from veil.mls.protection import confirmation_tag
from veil.mls.ratchet_tree import RatchetTree
from veil.mls.secret_tree import SecretTree, SecretTreeConfig
from veil.mls.suites import CipherSuite, suite_by_id
from veil.mls.treekem import TreePrivateKeys
from veil.mls.welcome import Welcome

__all__ = [
    "EXTENSION_RATCHET_TREE",
    "GroupConfig",
    "GroupState",
    "JoinKeys",
    "common_ancestor",
    "join_from_welcome",
    "resolve_psks",
    "validate_tree",
]

EXTENSION_RATCHET_TREE = 2


@dataclass(frozen=True, slots=True)
class GroupConfig:
    """Bounds a member keeps: late-message keys, and resumption PSKs of past epochs."""

    secret_tree: SecretTreeConfig = field(default_factory=SecretTreeConfig)
    resumption_epochs: int = 4


@dataclass(slots=True)
class GroupState:
    """Everything one member holds in one epoch."""

    suite: CipherSuite
    context: GroupContext
    tree: RatchetTree
    private: TreePrivateKeys
    secrets: EpochSecrets
    secret_tree: SecretTree
    interim_transcript_hash: bytes
    signature_key: bytes
    config: GroupConfig = field(default_factory=GroupConfig)
    proposals: dict[bytes, tuple[Proposal, Sender]] = field(default_factory=dict)
    resumption_psks: dict[int, bytes] = field(default_factory=dict)
    pending_leaf_keys: dict[bytes, bytes] = field(default_factory=dict)
    """Private keys of leaves we proposed in an Update this epoch, by public key."""
    restored: bool = False
    """Set by ``decode_state``: no PrivateMessage may be sent until the next epoch."""
    _signer: Ed25519PrivateKey | None = field(default=None, init=False, repr=False)

    @property
    def signer(self) -> Ed25519PrivateKey:
        """``signature_key`` loaded once (loading costs as much as signing), shared by copies."""
        if self._signer is None:
            self._signer = self.suite.signing_key(self.signature_key)
        return self._signer

    @property
    def leaf_index(self) -> int:
        """This member's leaf."""
        return self.private.leaf_index

    @property
    def epoch_authenticator(self) -> bytes:
        """The value members compare to confirm they share the epoch (RFC 9420 §8.7)."""
        return self.secrets.epoch_authenticator

    def copy(self, *, with_tree: bool = True) -> GroupState:
        """A copy to process a message on. Without ``with_tree`` the ratchet tree and the
        tree's private keys are shared: enough for messages that cannot change them
        (application data, proposals), and O(1) instead of O(n)."""
        copied = GroupState(
            self.suite,
            self.context,
            self.tree.copy() if with_tree else self.tree,
            self.private.copy() if with_tree else self.private,
            self.secrets,
            self.secret_tree.copy(),
            self.interim_transcript_hash,
            self.signature_key,
            self.config,
            dict(self.proposals),
            dict(self.resumption_psks),
            dict(self.pending_leaf_keys),
            self.restored,
        )
        copied._signer = self._signer
        return copied

    def psk_secret(self, psks: list[PreSharedKeyID], external: Mapping[bytes, bytes]) -> bytes:
        """Chain the PSKs a commit or Welcome names; a missing one raises MissingPskSecret."""
        return resolve_psks(self.suite, psks, external, self.resumption_psks, self.context)


def resolve_psks(
    suite: CipherSuite,
    psks: list[PreSharedKeyID] | tuple[PreSharedKeyID, ...],
    external: Mapping[bytes, bytes],
    resumption: Mapping[int, bytes],
    context: GroupContext | None,
) -> bytes:
    """``psk_secret`` for the named PSKs, looked up in the caller's stores."""
    pairs = []
    for psk in psks:
        if psk.psk_type == PSK_EXTERNAL:
            secret = external.get(psk.psk_id)
        elif context is not None and psk.psk_group_id == context.group_id:
            secret = resumption.get(psk.psk_epoch)
        else:
            secret = None
        if secret is None:
            raise MissingPskSecret(f"PSK {psk.psk_id.hex() or psk.psk_epoch} is not held")
        pairs.append((psk, secret))
    return derive_psk_secret(suite, pairs)


def _tree_from(
    group_info_tree: bytes | None, supplied: list[Node | None] | None
) -> list[Node | None]:
    if group_info_tree is not None:
        return decode(group_info_tree, decode_ratchet_tree)
    if supplied is None:
        raise InvalidWelcome("the GroupInfo carries no ratchet tree and none was supplied")
    return supplied


def validate_tree(tree: RatchetTree, context: GroupContext) -> None:
    """Tree hash, parent hashes and every leaf signature (RFC 9420 §12.4.3.1)."""
    if tree.tree_hash() != context.tree_hash:
        raise InvalidTree("the ratchet tree does not match the GroupContext's tree hash")
    tree.verify_parent_hashes()
    for node in tree.nodes:
        if isinstance(node, ParentNode):
            tree.suite.check_public_keys(node.encryption_key)
    for index in tree.members():
        leaf = tree.member_leaf(index)
        tree.suite.check_public_keys(leaf.encryption_key, leaf.signature_key)
        leaf.verify(tree.suite, context.group_id, index)


def common_ancestor(first: int, second: int, n_leaves: int) -> int:
    """The lowest node whose subtree holds both leaves."""
    node = tree_math.node_of_leaf(first)
    target = tree_math.node_of_leaf(second)
    while True:
        node = tree_math.parent(node, n_leaves)
        span = (1 << tree_math.level(node)) - 1
        if node - span <= target <= node + span:
            return node


def _install_path_secret(
    tree: RatchetTree, private: TreePrivateKeys, signer: int, path_secret: bytes
) -> None:
    suite = tree.suite
    start = common_ancestor(private.leaf_index, signer, tree.n_leaves)
    nodes = [start, *tree_math.direct_path(start, tree.n_leaves)] if tree.n_leaves > 1 else []
    for node in nodes:
        value = tree.nodes[node]
        if value is None:
            continue
        private.add_path_secret(suite, node, path_secret)
        if private.keys[node][1] != value.encryption_key:
            raise InvalidWelcome("the Welcome's path secret does not match the tree")
        path_secret = suite.derive_secret(path_secret, b"path")


@dataclass(frozen=True, slots=True)
class JoinKeys:
    """The private keys behind the key package a Welcome is for."""

    init_private: bytes
    encryption_private: bytes
    signature_private: bytes


def join_from_welcome(
    welcome: Welcome,
    key_package: KeyPackage,
    keys: JoinKeys,
    *,
    ratchet_tree: list[Node | None] | None = None,
    external_psks: Mapping[bytes, bytes] | None = None,
    config: GroupConfig | None = None,
) -> GroupState:
    """Join a group from a Welcome for ``key_package`` (RFC 9420 §12.4.3.1)."""
    suite = suite_by_id(welcome.cipher_suite)
    if key_package.cipher_suite != suite.suite_id:
        raise UnsupportedCipherSuite("the Welcome's suite differs from the key package's")
    secrets = welcome.open_group_secrets(suite, key_package.reference(suite), keys.init_private)
    if secrets is None:
        raise NoMatchingKeyPackage("the Welcome holds no secrets for this key package")
    psk_secret = resolve_psks(suite, secrets.psks, external_psks or {}, {}, None)
    group_info = welcome.open_group_info(
        suite, welcome_secret(suite, secrets.joiner_secret, psk_secret)
    )
    context = group_info.group_context
    if context.cipher_suite != suite.suite_id:
        raise InvalidWelcome("the GroupInfo names another cipher suite")
    embedded = next(
        (
            e.extension_data
            for e in group_info.extensions
            if e.extension_type == EXTENSION_RATCHET_TREE
        ),
        None,
    )
    tree = RatchetTree(suite, _tree_from(embedded, ratchet_tree))
    validate_tree(tree, context)
    signer = tree.leaf(group_info.signer)
    if signer is None:
        raise InvalidGroupInfo("the GroupInfo's signer is not a member")
    group_info.verify(suite, signer.signature_key)
    leaf_index = next((i for i in tree.members() if tree.leaf(i) == key_package.leaf_node), None)
    if leaf_index is None:
        raise InvalidWelcome("our leaf is not in the group's tree")
    private = TreePrivateKeys(leaf_index)
    private.keys[tree_math.node_of_leaf(leaf_index)] = (
        keys.encryption_private,
        key_package.leaf_node.encryption_key,
    )
    if secrets.path_secret is not None:
        _install_path_secret(tree, private, group_info.signer, secrets.path_secret)
    epoch = derive_epoch_secrets(suite, secrets.joiner_secret, psk_secret, context.to_bytes())
    tag = confirmation_tag(suite, epoch.confirmation_key, context.confirmed_transcript_hash)
    if tag != group_info.confirmation_tag:
        raise InvalidConfirmationTag("the GroupInfo's confirmation tag is wrong")
    config = config or GroupConfig()
    return GroupState(
        suite=suite,
        context=context,
        tree=tree,
        private=private,
        secrets=epoch,
        secret_tree=SecretTree(suite, epoch.encryption_secret, tree.n_leaves, config.secret_tree),
        interim_transcript_hash=interim_transcript_hash(
            suite, context.confirmed_transcript_hash, tag
        ),
        signature_key=keys.signature_private,
        config=config,
        resumption_psks={context.epoch: epoch.resumption_psk},
    )
