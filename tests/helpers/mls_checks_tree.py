"""Checkers for the tree-level IETF vectors: tree-math, tree-validation, tree-operations."""

from __future__ import annotations

from collections.abc import Callable

from helpers.mls_vectors import Case, checker, hexb
from veil.mls import tree_math
from veil.mls.codec import decode
from veil.mls.nodes import decode_ratchet_tree
from veil.mls.proposals import Add, Remove, Update, decode_proposal
from veil.mls.ratchet_tree import RatchetTree
from veil.mls.suites import suite_by_id


def _or_none(function: Callable[[int], int], node: int) -> int | None:
    try:
        return function(node)
    except ValueError:
        return None


@checker("tree-math.json")
def check_tree_math(case: Case) -> None:
    """root, left, right, parent and sibling of every node, with None where undefined."""
    n_leaves = case["n_leaves"]
    assert tree_math.node_width(n_leaves) == case["n_nodes"]
    assert tree_math.root(n_leaves) == case["root"]
    nodes = range(case["n_nodes"])
    assert [_or_none(tree_math.left, x) for x in nodes] == case["left"]
    assert [_or_none(tree_math.right, x) for x in nodes] == case["right"]
    assert [_or_none(lambda x: tree_math.parent(x, n_leaves), x) for x in nodes] == case["parent"]
    assert [_or_none(lambda x: tree_math.sibling(x, n_leaves), x) for x in nodes] == case["sibling"]


def _tree(case: Case, field: str) -> RatchetTree:
    suite = suite_by_id(case["cipher_suite"])
    return RatchetTree(suite, decode(hexb(case[field]), decode_ratchet_tree))


@checker("tree-validation.json")
def check_tree_validation(case: Case) -> None:
    """Every node's tree hash and resolution, parent hashes, and leaf signatures."""
    tree = _tree(case, "tree")
    assert [tree.node_hash(i).hex() for i in range(len(tree.nodes))] == case["tree_hashes"]
    assert [tree.resolution(i) for i in range(len(tree.nodes))] == case["resolutions"]
    tree.verify_parent_hashes()
    for index in tree.members():
        tree.member_leaf(index).verify(tree.suite, hexb(case["group_id"]), index)


@checker("tree-operations.json")
def check_tree_operations(case: Case) -> None:
    """Applying one Add, Update or Remove proposal changes the tree as expected."""
    tree = _tree(case, "tree_before")
    assert tree.tree_hash().hex() == case["tree_hash_before"]
    proposal = decode(hexb(case["proposal"]), decode_proposal)
    if isinstance(proposal, Add):
        tree.add_leaf(proposal.key_package.leaf_node)
    elif isinstance(proposal, Update):
        tree.update_leaf(case["proposal_sender"], proposal.leaf_node)
    else:
        assert isinstance(proposal, Remove)
        tree.remove_leaf(proposal.removed)
    assert tree.to_bytes().hex() == case["tree_after"]
    assert tree.tree_hash().hex() == case["tree_hash_after"]
