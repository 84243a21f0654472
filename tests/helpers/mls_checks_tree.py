"""Checkers for the tree-level IETF vectors: tree-math, tree-validation,
tree-operations, treekem."""

from __future__ import annotations

from collections.abc import Callable

from helpers.mls_vectors import Case, checker, hexb
from veil.crypto import DeterministicRandom
from veil.mls import tree_math
from veil.mls.codec import decode
from veil.mls.group_context import GroupContext
from veil.mls.nodes import decode_ratchet_tree
from veil.mls.proposals import Add, Remove, Update, UpdatePath, decode_proposal
from veil.mls.ratchet_tree import RatchetTree
from veil.mls.suites import CipherSuite, suite_by_id
from veil.mls.treekem import TreePrivateKeys, apply_update_path, create_update_path


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


def _private_keys(suite: CipherSuite, tree: RatchetTree, entry: Case) -> TreePrivateKeys:
    private = TreePrivateKeys(entry["index"])
    leaf_private = hexb(entry["encryption_priv"])
    node = tree_math.node_of_leaf(entry["index"])
    private.keys[node] = (leaf_private, suite.hpke.kem.public_key_of(leaf_private))
    for path_secret in entry["path_secrets"]:
        private.add_path_secret(suite, path_secret["node"], hexb(path_secret["path_secret"]))
    return private


@checker("treekem.json")
def check_treekem(case: Case) -> None:
    """Every member applies every UpdatePath: tree hash, path secret, commit secret;
    then each sender's own fresh UpdatePath is applied by every other member."""
    suite = suite_by_id(case["cipher_suite"])
    group_id = hexb(case["group_id"])

    def context_for(tree_hash: bytes) -> bytes:
        context = GroupContext(
            suite.suite_id,
            group_id,
            case["epoch"],
            tree_hash,
            hexb(case["confirmed_transcript_hash"]),
        )
        return context.to_bytes()

    for update in case["update_paths"]:
        path = decode(hexb(update["update_path"]), UpdatePath.decode)
        for entry in case["leaves_private"]:
            expected = update["path_secrets"][entry["index"]]
            if entry["index"] == update["sender"]:
                continue
            tree = _tree(case, "ratchet_tree")
            private = _private_keys(suite, tree, entry)
            secrets = apply_update_path(
                tree,
                update["sender"],
                path,
                group_id=group_id,
                excluded=set(),
                context_for=context_for,
                private=private,
            )
            assert tree.tree_hash().hex() == update["tree_hash_after"]
            assert secrets.commit_secret.hex() == update["commit_secret"]
            assert expected in [s.hex() for s in secrets.by_node.values()]
            tree.verify_parent_hashes()
        _check_own_update_path(case, update["sender"], context_for)


def _check_own_update_path(case: Case, sender: int, context_for: Callable[[bytes], bytes]) -> None:
    entries = {entry["index"]: entry for entry in case["leaves_private"]}
    if sender not in entries:
        return
    group_id = hexb(case["group_id"])
    sender_tree = _tree(case, "ratchet_tree")
    path, secrets, _ = create_update_path(
        sender_tree,
        sender,
        sender_tree.member_leaf(sender),
        signature_key=hexb(entries[sender]["signature_priv"]),
        group_id=group_id,
        excluded=set(),
        context_for=context_for,
        rng=DeterministicRandom(b"path"),
    )
    sender_tree.verify_parent_hashes()
    for index, entry in entries.items():
        if index != sender:
            tree = _tree(case, "ratchet_tree")
            received = apply_update_path(
                tree,
                sender,
                path,
                group_id=group_id,
                excluded=set(),
                context_for=context_for,
                private=_private_keys(tree.suite, tree, entry),
            )
            assert received.commit_secret == secrets.commit_secret
            assert tree.tree_hash() == sender_tree.tree_hash()
