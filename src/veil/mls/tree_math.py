"""Array-based left-balanced binary tree math (RFC 9420 §4.2, Appendix C).

Nodes are numbered left to right; leaves have even indices (leaf ``i`` is node ``2i``)
and a node's level is the number of trailing one bits of its index. ``n_leaves`` is
always a power of two in MLS, so every function here is defined on a full tree.
"""

from __future__ import annotations

__all__ = [
    "copath",
    "direct_path",
    "is_leaf",
    "leaf_of_node",
    "left",
    "level",
    "node_of_leaf",
    "node_width",
    "parent",
    "right",
    "root",
    "sibling",
]


def level(node: int) -> int:
    """The node's height: 0 for leaves, k for a node with k trailing one bits."""
    if node & 1 == 0:
        return 0
    height = 0
    while (node >> height) & 1:
        height += 1
    return height


def is_leaf(node: int) -> bool:
    """Whether the node index is a leaf."""
    return node & 1 == 0


def node_of_leaf(leaf: int) -> int:
    """The node index of leaf ``leaf``."""
    return 2 * leaf


def leaf_of_node(node: int) -> int:
    """The leaf index of a leaf node."""
    if not is_leaf(node):
        raise ValueError(f"node {node} is not a leaf")
    return node // 2


def node_width(n_leaves: int) -> int:
    """How many nodes a tree with ``n_leaves`` leaves has."""
    return 0 if n_leaves == 0 else 2 * (n_leaves - 1) + 1


def root(n_leaves: int) -> int:
    """The root's node index."""
    if n_leaves < 1:
        raise ValueError("a tree has at least one leaf")
    return (1 << (node_width(n_leaves).bit_length() - 1)) - 1


def left(node: int) -> int:
    """The left child of an intermediate node."""
    height = level(node)
    if height == 0:
        raise ValueError(f"leaf {node} has no children")
    return node ^ (1 << (height - 1))


def right(node: int) -> int:
    """The right child of an intermediate node."""
    height = level(node)
    if height == 0:
        raise ValueError(f"leaf {node} has no children")
    return node ^ (3 << (height - 1))


def parent(node: int, n_leaves: int) -> int:
    """The parent of a non-root node."""
    if node == root(n_leaves):
        raise ValueError("the root has no parent")
    height = level(node)
    bit = 1 << height
    return (node | bit) ^ (node & (bit << 1))


def sibling(node: int, n_leaves: int) -> int:
    """The other child of the node's parent."""
    above = parent(node, n_leaves)
    return right(above) if node < above else left(above)


def direct_path(node: int, n_leaves: int) -> list[int]:
    """The node's ancestors from its parent up to and including the root."""
    top = root(n_leaves)
    path: list[int] = []
    while node != top:
        node = parent(node, n_leaves)
        path.append(node)
    return path


def copath(node: int, n_leaves: int) -> list[int]:
    """The siblings of the node and of each ancestor below the root."""
    if node == root(n_leaves):
        return []
    chain = [node, *direct_path(node, n_leaves)[:-1]]
    return [sibling(member, n_leaves) for member in chain]
