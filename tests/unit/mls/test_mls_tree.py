"""The ratchet tree and TreeKEM: tree-validation, tree-operations and treekem IETF
vectors (and our own UpdatePaths applied by every member), tampering."""

from __future__ import annotations

from dataclasses import replace

import pytest

from helpers.mls_checks_tree import check_tree_operations, check_tree_validation, check_treekem
from helpers.mls_vectors import Case, hexb, implemented_cases
from veil.mls.codec import decode
from veil.mls.errors import InvalidTree
from veil.mls.nodes import ParentNode, decode_ratchet_tree
from veil.mls.ratchet_tree import RatchetTree
from veil.mls.suites import suite_by_id


@pytest.mark.parametrize("case", implemented_cases("tree-validation.json"), ids=str)
def test_tree_validation_vector(case: Case) -> None:
    check_tree_validation(case)


@pytest.mark.parametrize("case", implemented_cases("tree-operations.json"), ids=str)
def test_tree_operations_vector(case: Case) -> None:
    check_tree_operations(case)


@pytest.mark.parametrize("case", implemented_cases("treekem.json"), ids=str)
def test_treekem_vector(case: Case) -> None:
    check_treekem(case)


def test_a_tampered_parent_node_fails_parent_hash_validation() -> None:
    case = next(
        c
        for c in implemented_cases("tree-validation.json")
        if any(isinstance(n, ParentNode) for n in decode(hexb(c["tree"]), decode_ratchet_tree))
    )
    tree = RatchetTree(
        suite_by_id(case["cipher_suite"]), decode(hexb(case["tree"]), decode_ratchet_tree)
    )
    index, parent = next((i, n) for i, n in enumerate(tree.nodes) if isinstance(n, ParentNode))
    before = tree.tree_hash()
    tree.set_node(index, replace(parent, encryption_key=bytes(len(parent.encryption_key))))
    assert tree.tree_hash() != before
    with pytest.raises(InvalidTree):
        tree.verify_parent_hashes()
