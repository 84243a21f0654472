"""Checkers for the tree-level IETF vectors: tree-math (M2 extends this module)."""

from __future__ import annotations

from collections.abc import Callable

from helpers.mls_vectors import Case, checker
from veil.mls import tree_math


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
