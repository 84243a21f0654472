"""Checkers for the passive-client IETF vectors: join from a Welcome, follow commits."""

from __future__ import annotations

from helpers.mls_vectors import Case, checker, hexb
from veil.mls.codec import decode
from veil.mls.framing import MLSMessage
from veil.mls.group_state import GroupState, JoinKeys, join_from_welcome
from veil.mls.leaf_node import KeyPackage
from veil.mls.nodes import decode_ratchet_tree
from veil.mls.processing import process_message
from veil.mls.welcome import Welcome


def join_case(case: Case) -> tuple[GroupState, dict[bytes, bytes]]:
    welcome = decode(hexb(case["welcome"]), MLSMessage.decode).body
    key_package = decode(hexb(case["key_package"]), MLSMessage.decode).body
    assert isinstance(welcome, Welcome) and isinstance(key_package, KeyPackage)
    psks = {hexb(p["psk_id"]): hexb(p["psk"]) for p in case["external_psks"]}
    tree = case["ratchet_tree"]
    keys = JoinKeys(
        hexb(case["init_priv"]), hexb(case["encryption_priv"]), hexb(case["signature_priv"])
    )
    state = join_from_welcome(
        welcome,
        key_package,
        keys,
        ratchet_tree=decode(hexb(tree), decode_ratchet_tree) if tree else None,
        external_psks=psks,
    )
    assert state.epoch_authenticator.hex() == case["initial_epoch_authenticator"]
    return state, psks


@checker("passive-client-welcome.json")
def check_passive_client_welcome(case: Case) -> None:
    """Join from the Welcome and agree on the epoch authenticator."""
    join_case(case)


def _follow(case: Case) -> None:
    state, psks = join_case(case)
    for epoch in case["epochs"]:
        for proposal in epoch["proposals"]:
            state = process_message(state, decode(hexb(proposal), MLSMessage.decode), psks).state
        outcome = process_message(state, decode(hexb(epoch["commit"]), MLSMessage.decode), psks)
        state = outcome.state
        assert state.epoch_authenticator.hex() == epoch["epoch_authenticator"]


@checker("passive-client-handling-commit.json")
def check_passive_client_handling_commit(case: Case) -> None:
    """Join, then follow every commit (with its proposals) to the same authenticators."""
    _follow(case)


@checker("passive-client-random.json")
def check_passive_client_random(case: Case) -> None:
    """Join, then follow a long random history of commits and proposals."""
    _follow(case)
