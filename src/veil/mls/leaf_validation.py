"""Checks on leaf nodes and key packages entering a group (RFC 9420 §7.3, §10.1).

Lifetimes are not checked here: ``veil.mls`` reads no clock, so the layer above checks
``Lifetime`` against its injected ``now`` before handing a key package in.
"""

from __future__ import annotations

from veil.mls.errors import InvalidKeyPackage, InvalidLeafNode
from veil.mls.leaf_node import (
    CREDENTIAL_BASIC,
    SOURCE_KEY_PACKAGE,
    KeyPackage,
    LeafNode,
)
from veil.mls.ratchet_tree import RatchetTree

__all__ = ["check_key_package", "check_leaf_node"]


def check_leaf_node(
    tree: RatchetTree, leaf: LeafNode, source: int, replacing: int | None, used: set[bytes]
) -> None:
    """The leaf has the expected source, a supported credential, and keys no other
    member uses (looked up in the tree's key index, O(1); ``used`` collects the keys
    of leaves added earlier in the same commit; ``replacing`` is the leaf it replaces,
    whose own keys may repeat)."""
    tree.suite.check_public_keys(leaf.encryption_key, leaf.signature_key)
    if leaf.leaf_node_source != source:
        raise InvalidLeafNode(f"leaf node source {leaf.leaf_node_source}, expected {source}")
    if leaf.credential.credential_type not in leaf.capabilities.credentials:
        raise InvalidLeafNode("the leaf's credential type is not among its capabilities")
    if leaf.credential.credential_type != CREDENTIAL_BASIC:
        raise InvalidLeafNode("Veil groups accept only basic credentials")
    for key in (leaf.encryption_key, leaf.signature_key):
        if key in used or tree.key_owner(key) not in (None, replacing):
            raise InvalidLeafNode("a key of this leaf is already used by another member")
    used.update((leaf.encryption_key, leaf.signature_key))


def check_key_package(tree: RatchetTree, package: KeyPackage, used: set[bytes]) -> None:
    """A key package for this group: its suite, signatures, distinct keys, fresh leaf."""
    suite = tree.suite
    if package.cipher_suite != suite.suite_id:
        raise InvalidKeyPackage("the key package is for another cipher suite")
    package.verify(suite)
    package.leaf_node.verify(suite, b"", 0)
    suite.check_public_keys(package.init_key)
    if package.init_key == package.leaf_node.encryption_key:
        raise InvalidKeyPackage("the init key equals the leaf's encryption key")
    check_leaf_node(tree, package.leaf_node, SOURCE_KEY_PACKAGE, None, used)
