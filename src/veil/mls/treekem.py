"""TreeKEM (RFC 9420 §7.4-§7.6): creating and applying UpdatePaths.

Path secrets climb the committer's filtered direct path::

    path_secret[0]   (random; the committer's new leaf key)
    path_secret[n] = DeriveSecret(path_secret[n-1], "path")
    node key pair  = DeriveKeyPair(DeriveSecret(path_secret[n], "node"))
    commit_secret  = DeriveSecret(path_secret[last], "path")

Each path secret is HPKE-encrypted (``EncryptWithLabel("UpdatePathNode")`` under the
provisional GroupContext) to every node in the resolution of the matching copath
node, except the leaves the same commit adds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from veil.crypto import RandomSource
from veil.mls import tree_math
from veil.mls.errors import DecryptionFailed, InvalidCommit, InvalidLeafNode
from veil.mls.leaf_node import SOURCE_COMMIT, LeafNode
from veil.mls.nodes import ParentNode
from veil.mls.proposals import HPKECiphertext, UpdatePath, UpdatePathNode
from veil.mls.ratchet_tree import RatchetTree
from veil.mls.suites import CipherSuite

__all__ = ["PathSecrets", "TreePrivateKeys", "apply_update_path", "create_update_path"]

ContextForTreeHash = Callable[[bytes], bytes]
"""Given the new tree hash, the serialised provisional GroupContext."""


@dataclass(slots=True)
class TreePrivateKeys:
    """The HPKE private keys a member holds: its leaf's and some parents' (by node)."""

    leaf_index: int
    keys: dict[int, tuple[bytes, bytes]] = field(default_factory=dict)

    def copy(self) -> TreePrivateKeys:
        """An independent copy."""
        return TreePrivateKeys(self.leaf_index, dict(self.keys))

    def prune(self, tree: RatchetTree) -> None:
        """Forget keys whose node is blank or now holds another public key."""
        for node, (_, public) in list(self.keys.items()):
            value = tree.nodes[node] if node < len(tree.nodes) else None
            if value is None or value.encryption_key != public:
                del self.keys[node]

    def add_path_secret(self, suite: CipherSuite, node: int, path_secret: bytes) -> None:
        """Store the key pair a path secret derives for ``node``."""
        self.keys[node] = suite.derive_key_pair(suite.derive_secret(path_secret, b"node"))


@dataclass(frozen=True, slots=True)
class PathSecrets:
    """What applying or creating a path yields: the commit secret, and for a creator
    the path secret of each filtered-path node (to put in Welcomes)."""

    commit_secret: bytes
    by_node: dict[int, bytes]


def _next(suite: CipherSuite, path_secret: bytes) -> bytes:
    return suite.derive_secret(path_secret, b"path")


def _merge(tree: RatchetTree, sender: int, leaf: LeafNode, keys: list[bytes]) -> bytes:
    """Blank the sender's direct path, put the new keys on its filtered direct path and
    set their parent hashes top-down; return the parent hash the leaf must carry."""
    filtered = tree.filtered_direct_path(sender)
    if len(keys) != len(filtered):
        raise InvalidCommit(f"the path has {len(keys)} nodes; {len(filtered)} expected")
    tree.update_leaf(sender, leaf)
    for node, key in zip(filtered, keys, strict=True):
        tree.set_node(node, ParentNode(key, b""))
    below = [tree_math.node_of_leaf(sender), *filtered]
    parent_hash = b""
    for index in range(len(filtered) - 1, -1, -1):
        node = filtered[index]
        current = tree.parent(node)
        assert current is not None
        tree.set_node(node, replace(current, parent_hash=parent_hash))
        child = below[index]
        sibling = tree_math.right(node) if child < node else tree_math.left(node)
        parent_hash = tree.parent_hash_of(node, sibling)
    return parent_hash


def _copath_child(node: int, leaf_node: int) -> tuple[int, int]:
    """(the child of ``node`` above ``leaf_node``, the other child)."""
    left, right = tree_math.left(node), tree_math.right(node)
    return (left, right) if leaf_node < node else (right, left)


def create_update_path(
    tree: RatchetTree,
    sender: int,
    leaf_template: LeafNode,
    *,
    signature_key: bytes,
    group_id: bytes,
    excluded: set[int],
    context_for: ContextForTreeHash,
    rng: RandomSource,
) -> tuple[UpdatePath, PathSecrets, TreePrivateKeys]:
    """Refresh the sender's path in ``tree`` (changed in place); return the UpdatePath,
    the secrets, and the sender's new private keys."""
    suite = tree.suite
    path_secret = rng.random_bytes(suite.hash_size)
    private = TreePrivateKeys(sender)
    leaf_private, leaf_public = suite.derive_key_pair(suite.derive_secret(path_secret, b"node"))
    filtered = tree.filtered_direct_path(sender)
    by_node: dict[int, bytes] = {}
    public_keys: list[bytes] = []
    for node in filtered:
        path_secret = _next(suite, path_secret)
        by_node[node] = path_secret
        private.add_path_secret(suite, node, path_secret)
        public_keys.append(private.keys[node][1])
    leaf = replace(leaf_template, encryption_key=leaf_public, leaf_node_source=SOURCE_COMMIT)
    leaf = replace(leaf, parent_hash=_merge(tree, sender, leaf, public_keys), lifetime=None)
    leaf = leaf.signed(suite, signature_key, group_id, sender)
    tree.set_node(tree_math.node_of_leaf(sender), leaf)
    private.keys[tree_math.node_of_leaf(sender)] = (leaf_private, leaf_public)
    context = context_for(tree.tree_hash())
    nodes = []
    for node, public in zip(filtered, public_keys, strict=True):
        _, other = _copath_child(node, tree_math.node_of_leaf(sender))
        recipients = _recipients(tree, other, excluded)
        sealed = [_seal(tree, recipient, context, by_node[node]) for recipient in recipients]
        nodes.append(UpdatePathNode(public, tuple(sealed)))
    secrets = PathSecrets(_next(suite, path_secret), by_node)
    return UpdatePath(leaf, tuple(nodes)), secrets, private


def _recipients(tree: RatchetTree, node: int, excluded: set[int]) -> list[int]:
    excluded_nodes = {tree_math.node_of_leaf(leaf) for leaf in excluded}
    return [n for n in tree.resolution(node) if n not in excluded_nodes]


def _seal(tree: RatchetTree, recipient: int, context: bytes, secret: bytes) -> HPKECiphertext:
    value = tree.nodes[recipient]
    assert value is not None
    kem_output, ciphertext = tree.suite.encrypt_with_label(
        value.encryption_key, b"UpdatePathNode", context, secret
    )
    return HPKECiphertext(kem_output, ciphertext)


def apply_update_path(
    tree: RatchetTree,
    sender: int,
    path: UpdatePath,
    *,
    group_id: bytes,
    excluded: set[int],
    context_for: ContextForTreeHash,
    private: TreePrivateKeys,
) -> PathSecrets:
    """Merge another member's UpdatePath into ``tree`` and ``private`` (both changed in
    place: work on copies) and return the commit secret."""
    suite = tree.suite
    leaf = path.leaf_node
    if leaf.leaf_node_source != SOURCE_COMMIT:
        raise InvalidLeafNode("an UpdatePath's leaf must have source commit")
    leaf.verify(suite, group_id, sender)
    for node in path.nodes:
        suite.check_public_keys(node.encryption_key)
    suite.check_public_keys(leaf.encryption_key, leaf.signature_key)
    filtered = tree.filtered_direct_path(sender)
    copath = [_copath_child(node, tree_math.node_of_leaf(sender))[1] for node in filtered]
    expected = _merge(tree, sender, leaf, [node.encryption_key for node in path.nodes])
    if expected != leaf.parent_hash:
        raise InvalidCommit("the UpdatePath's leaf carries the wrong parent hash")
    private.prune(tree)
    context = context_for(tree.tree_hash())
    me = tree_math.node_of_leaf(private.leaf_index)
    for position, other in enumerate(copath):
        if _covers(other, me):
            recipients = _recipients(tree, other, excluded)  # copath subtrees: unchanged
            path_secret = _decrypt(suite, path.nodes[position], recipients, private, context)
            return _climb(
                suite,
                filtered[position:],
                path,
                first=position,
                path_secret=path_secret,
                private=private,
            )
    raise InvalidCommit("no node of the UpdatePath covers this member")


def _covers(top: int, leaf_node: int) -> bool:
    """Whether ``leaf_node`` lies in the subtree under ``top``."""
    span = (1 << tree_math.level(top)) - 1
    return top - span <= leaf_node <= top + span


def _decrypt(
    suite: CipherSuite,
    path_node: UpdatePathNode,
    recipients: list[int],
    private: TreePrivateKeys,
    context: bytes,
) -> bytes:
    if len(path_node.encrypted_path_secret) != len(recipients):
        raise InvalidCommit("an UpdatePath node has the wrong number of ciphertexts")
    for index, recipient in enumerate(recipients):
        if recipient in private.keys:
            sealed = path_node.encrypted_path_secret[index]
            key = private.keys[recipient][0]
            try:
                return suite.decrypt_with_label(
                    key, b"UpdatePathNode", context, sealed.kem_output, sealed.ciphertext
                )
            except DecryptionFailed as error:
                raise InvalidCommit("our path secret does not decrypt") from error
    raise InvalidCommit("no key we hold can decrypt the UpdatePath")


def _climb(
    suite: CipherSuite,
    nodes: list[int],
    path: UpdatePath,
    *,
    first: int,
    path_secret: bytes,
    private: TreePrivateKeys,
) -> PathSecrets:
    by_node: dict[int, bytes] = {}
    for offset, node in enumerate(nodes):
        if offset:
            path_secret = _next(suite, path_secret)
        private.add_path_secret(suite, node, path_secret)
        if private.keys[node][1] != path.nodes[first + offset].encryption_key:
            raise InvalidCommit("a path secret does not match the UpdatePath's public key")
        by_node[node] = path_secret
    return PathSecrets(_next(suite, path_secret), by_node)
