"""The public ratchet tree (RFC 9420 §7): nodes, resolution, tree hash, parent hash.

Tree hashes are cached per node and a change invalidates only the changed node's
direct path, so a commit re-hashes O(log n) nodes, not the whole tree.
"""

from __future__ import annotations

from dataclasses import replace

from veil.mls import tree_math
from veil.mls.codec import TlsWriter, to_bytes
from veil.mls.errors import InvalidMembership, InvalidTree
from veil.mls.leaf_node import SOURCE_COMMIT, LeafNode
from veil.mls.nodes import Node, ParentNode, encode_ratchet_tree
from veil.mls.suites import CipherSuite

__all__ = ["RatchetTree"]


def _full_leaves(node_count: int) -> int:
    leaves = 1
    while tree_math.node_width(leaves) < node_count:
        leaves *= 2
    return leaves


class RatchetTree:
    """A full, left-balanced tree of optional nodes (``None`` is blank)."""

    def __init__(self, suite: CipherSuite, nodes: list[Node | None]) -> None:
        width = tree_math.node_width(_full_leaves(max(len(nodes), 1)))
        self.suite = suite
        self.nodes: list[Node | None] = [*nodes, *([None] * (width - len(nodes)))]
        self._hashes: dict[int, bytes] = {}
        self._free_hint = 0  # no blank leaf lies left of it
        self._key_owners: dict[bytes, int] = {}  # members' encryption and signature keys
        for index, node in enumerate(self.nodes):
            if isinstance(node, LeafNode):
                self._own_keys(node, tree_math.leaf_of_node(index))

    def copy(self) -> RatchetTree:
        """An independent copy (nodes are immutable, so the list copy suffices); the key
        index is copied, not rebuilt by a scan of every node."""
        other = RatchetTree.__new__(RatchetTree)
        other.suite, other.nodes = self.suite, list(self.nodes)
        other._hashes = dict(self._hashes)
        other._free_hint = self._free_hint
        other._key_owners = dict(self._key_owners)
        return other

    def _own_keys(self, leaf: LeafNode, index: int) -> None:
        self._key_owners.setdefault(leaf.encryption_key, index)
        self._key_owners.setdefault(leaf.signature_key, index)

    def key_owner(self, key: bytes) -> int | None:
        """The member leaf whose encryption or signature key ``key`` is, if any (O(1))."""
        return self._key_owners.get(key)

    # --- shape -----------------------------------------------------------------

    @property
    def n_leaves(self) -> int:
        """The number of leaf slots (a power of two)."""
        return (len(self.nodes) + 1) // 2

    def leaf(self, index: int) -> LeafNode | None:
        """The leaf node at leaf ``index``, or None if blank."""
        if not 0 <= index < self.n_leaves:
            return None
        node = self.nodes[tree_math.node_of_leaf(index)]
        return node if isinstance(node, LeafNode) else None

    def member_leaf(self, index: int) -> LeafNode:
        """The leaf of a member; a blank or missing leaf raises InvalidMembership."""
        leaf = self.leaf(index)
        if leaf is None:
            raise InvalidMembership(f"leaf {index} is not a member")
        return leaf

    def parent(self, node: int) -> ParentNode | None:
        """The parent node at node index ``node``, or None if blank."""
        found = self.nodes[node]
        return found if isinstance(found, ParentNode) else None

    def members(self) -> list[int]:
        """The leaf indices of every member."""
        return [i for i in range(self.n_leaves) if self.leaf(i) is not None]

    def resolution(self, node: int) -> list[int]:
        """The non-blank nodes covering ``node``'s subtree (RFC 9420 §4.1.1)."""
        found = self.nodes[node]
        if isinstance(found, LeafNode):
            return [node]
        if isinstance(found, ParentNode):
            unmerged = [tree_math.node_of_leaf(i) for i in found.unmerged_leaves]
            return [node, *unmerged]
        if tree_math.is_leaf(node):
            return []
        return self.resolution(tree_math.left(node)) + self.resolution(tree_math.right(node))

    def filtered_direct_path(self, leaf: int) -> list[int]:
        """The leaf's direct path minus nodes whose copath child resolves to nothing."""
        start = tree_math.node_of_leaf(leaf)
        if self.n_leaves == 1:
            return []
        path = tree_math.direct_path(start, self.n_leaves)
        copath = tree_math.copath(start, self.n_leaves)
        return [node for node, other in zip(path, copath, strict=True) if self._has_nodes(other)]

    def _has_nodes(self, node: int) -> bool:
        """Whether the subtree under ``node`` holds any non-blank node (its resolution is
        non-empty), by one scan of the subtree's index range."""
        span = (1 << tree_math.level(node)) - 1
        return any(value is not None for value in self.nodes[node - span : node + span + 1])

    # --- changes ---------------------------------------------------------------

    def set_node(self, node: int, value: Node | None) -> None:
        """Replace one node, invalidating the cached hashes that depend on it."""
        if tree_math.is_leaf(node):
            self._track_leaf(node, value)
        self.nodes[node] = value
        self._hashes.pop(node, None)
        if value is None and tree_math.is_leaf(node):
            self._free_hint = min(self._free_hint, tree_math.leaf_of_node(node))
        if self.n_leaves > 1 and node != tree_math.root(self.n_leaves):
            for above in tree_math.direct_path(node, self.n_leaves):
                self._hashes.pop(above, None)

    def _track_leaf(self, node: int, value: Node | None) -> None:
        index = tree_math.leaf_of_node(node)
        old = self.nodes[node] if node < len(self.nodes) else None
        if isinstance(old, LeafNode):
            for key in (old.encryption_key, old.signature_key):
                if self._key_owners.get(key) == index:
                    del self._key_owners[key]
        if isinstance(value, LeafNode):
            self._own_keys(value, index)

    def blank_direct_path(self, leaf: int) -> None:
        """Blank every parent on the leaf's direct path."""
        if self.n_leaves > 1:
            for node in tree_math.direct_path(tree_math.node_of_leaf(leaf), self.n_leaves):
                self.set_node(node, None)

    def add_leaf(self, leaf: LeafNode) -> int:
        """Put a new member in the leftmost blank leaf (growing the tree if full) and
        mark it unmerged at every non-blank parent above it (RFC 9420 §12.1.1)."""
        candidates = range(self._free_hint, self.n_leaves)
        index = next((i for i in candidates if self.leaf(i) is None), self.n_leaves)
        self._free_hint = index + 1
        if index == self.n_leaves:
            self.nodes += [None] * len(self.nodes) + [None]
            self._hashes.clear()
        node = tree_math.node_of_leaf(index)
        self.set_node(node, leaf)
        for above in tree_math.direct_path(node, self.n_leaves):
            parent = self.parent(above)
            if parent is not None:
                unmerged = (*parent.unmerged_leaves, index)
                self.set_node(above, replace(parent, unmerged_leaves=unmerged))
        return index

    def update_leaf(self, index: int, leaf: LeafNode) -> None:
        """Replace a member's leaf and blank its direct path."""
        self.set_node(tree_math.node_of_leaf(index), leaf)
        self.blank_direct_path(index)

    def remove_leaf(self, index: int) -> None:
        """Blank a member's leaf and direct path, then drop empty right halves."""
        self.member_leaf(index)
        self.set_node(tree_math.node_of_leaf(index), None)
        self.blank_direct_path(index)
        while self.n_leaves > 1 and not any(
            self.leaf(i) for i in range(self.n_leaves // 2, self.n_leaves)
        ):
            self.nodes = self.nodes[: len(self.nodes) // 2]
            self._hashes.clear()

    # --- hashes ----------------------------------------------------------------

    def tree_hash(self) -> bytes:
        """The hash of the whole tree (RFC 9420 §7.8)."""
        return self.node_hash(tree_math.root(self.n_leaves))

    def node_hash(self, node: int) -> bytes:
        """The tree hash of the subtree under ``node`` (cached)."""
        cached = self._hashes.get(node)
        if cached is None:
            cached = self._hash_of(node, self.nodes)
            self._hashes[node] = cached
        return cached

    def _hash_of(self, node: int, nodes: list[Node | None], cache: bool = True) -> bytes:
        writer = TlsWriter()
        value = nodes[node]
        if tree_math.is_leaf(node):
            writer.u8(1).u32(tree_math.leaf_of_node(node))
            writer.optional(
                value if isinstance(value, LeafNode) else None, lambda w, v: v.encode(w)
            )
        else:
            writer.u8(2)
            writer.optional(
                value if isinstance(value, ParentNode) else None, lambda w, v: v.encode(w)
            )
            for child in (tree_math.left(node), tree_math.right(node)):
                child_hash = self.node_hash(child) if cache else self._hash_of(child, nodes, False)
                writer.opaque(child_hash)
        return self.suite.hash(writer.build())

    def original_sibling_hash(self, sibling: int, unmerged: tuple[int, ...]) -> bytes:
        """The sibling's tree hash with ``unmerged`` leaves taken out (RFC 9420 §7.9)."""
        if not unmerged:
            return self.node_hash(sibling)
        nodes = list(self.nodes)
        for leaf in unmerged:
            nodes[tree_math.node_of_leaf(leaf)] = None
        for index, node in enumerate(nodes):
            if isinstance(node, ParentNode) and set(node.unmerged_leaves) & set(unmerged):
                kept = tuple(i for i in node.unmerged_leaves if i not in unmerged)
                nodes[index] = replace(node, unmerged_leaves=kept)
        return self._hash_of(sibling, nodes, cache=False)

    def parent_hash_of(self, parent_index: int, sibling: int) -> bytes:
        """ParentHash of the parent at ``parent_index`` seen from the child whose sibling
        is ``sibling``."""
        parent = self.parent(parent_index)
        if parent is None:
            raise InvalidTree(f"node {parent_index} is blank")
        original = self.original_sibling_hash(sibling, parent.unmerged_leaves)
        data = TlsWriter().opaque(parent.encryption_key).opaque(parent.parent_hash)
        return self.suite.hash(data.opaque(original).build())

    def _first_non_blank_ancestor(self, node: int) -> int:
        for above in tree_math.direct_path(node, self.n_leaves):
            if self.nodes[above] is not None:
                return above
        return tree_math.root(self.n_leaves)

    def verify_parent_hashes(self) -> None:
        """Raise InvalidTree unless every non-blank parent is covered by exactly one
        parent-hash chain starting at a leaf (RFC 9420 §7.9.2)."""
        coverage: dict[int, int] = {}
        memo: dict[tuple[int, int], bytes] = {}
        top = tree_math.root(self.n_leaves)
        for leaf in self.members():
            node: int = tree_math.node_of_leaf(leaf)
            while node != top:
                above = self._first_non_blank_ancestor(node)
                if self.nodes[above] is None:
                    break
                sibling = tree_math.right(above) if node < above else tree_math.left(above)
                if (above, sibling) not in memo:
                    memo[(above, sibling)] = self.parent_hash_of(above, sibling)
                if _stated_parent_hash(self.nodes[node]) != memo[(above, sibling)]:
                    break
                coverage[above] = coverage.get(above, 0) + 1
                node = above
        for index, value in enumerate(self.nodes):
            if isinstance(value, ParentNode) and coverage.get(index) != 1:
                raise InvalidTree(f"parent node {index} is not covered by one parent-hash chain")

    def encode(self, writer: TlsWriter) -> None:
        """Append the tree in its ``ratchet_tree`` extension form."""
        encode_ratchet_tree(writer, self.nodes)

    def to_bytes(self) -> bytes:
        """The serialised tree."""
        return to_bytes(self)


def _stated_parent_hash(node: Node | None) -> bytes | None:
    if isinstance(node, ParentNode):
        return node.parent_hash
    if isinstance(node, LeafNode) and node.leaf_node_source == SOURCE_COMMIT:
        return node.parent_hash
    return None
