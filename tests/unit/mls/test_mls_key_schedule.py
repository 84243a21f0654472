"""Key schedule, PSKs and the secret tree: IETF vectors and Veil's own bounds."""

from __future__ import annotations

import pytest

from helpers.mls_checks_schedule import check_key_schedule, check_psk_secret, check_secret_tree
from helpers.mls_vectors import Case, implemented_cases
from veil.mls.codec import TlsWriter, decode
from veil.mls.errors import InvalidMembership, MLSDecodeError, SecretAlreadyUsed, SecretTooFarAhead
from veil.mls.key_schedule import PSK_RESUMPTION, PreSharedKeyID
from veil.mls.secret_tree import SecretTree, SecretTreeConfig
from veil.mls.suites import suite_by_id


@pytest.mark.parametrize("case", implemented_cases("key-schedule.json"), ids=str)
def test_key_schedule_vector(case: Case) -> None:
    check_key_schedule(case)


@pytest.mark.parametrize("case", implemented_cases("psk_secret.json"), ids=str)
def test_psk_secret_vector(case: Case) -> None:
    check_psk_secret(case)


@pytest.mark.parametrize("case", implemented_cases("secret-tree.json"), ids=str)
def test_secret_tree_vector(case: Case) -> None:
    check_secret_tree(case)


def test_resumption_psk_id_round_trips_and_unknown_types_are_rejected() -> None:
    psk = PreSharedKeyID(PSK_RESUMPTION, b"n" * 32, usage=1, psk_group_id=b"g", psk_epoch=7)
    writer = TlsWriter()
    psk.encode(writer)
    assert decode(writer.build(), PreSharedKeyID.decode) == psk
    with pytest.raises(MLSDecodeError, match="PSK type"):
        decode(b"\x03", PreSharedKeyID.decode)
    with pytest.raises(MLSDecodeError, match="usage"):
        decode(b"\x02\x09", PreSharedKeyID.decode)


def _tree(config: SecretTreeConfig | None = None) -> SecretTree:
    return SecretTree(suite_by_id(1), b"\x07" * 32, 4, config)


def test_sender_and_receiver_agree_and_each_key_opens_once() -> None:
    sender, receiver = _tree(), _tree()
    first, second = (
        sender.next_sending_key(1, "application"),
        sender.next_sending_key(1, "application"),
    )
    assert receiver.key_for(1, "application", 1) == second
    receiver.consume(1, "application", 1)
    assert receiver.key_for(1, "application", 0) == first  # late message: retained
    receiver.consume(1, "application", 0)
    for generation in (0, 1):
        with pytest.raises(SecretAlreadyUsed):
            receiver.key_for(1, "application", generation)


def test_looking_a_key_up_changes_nothing() -> None:
    tree = _tree()
    before = tree.key_for(2, "handshake", 5)
    assert tree.key_for(2, "handshake", 5) == before
    assert tree.key_for(2, "handshake", 0) != before


def test_retention_and_forward_gap_are_bounded() -> None:
    tree = _tree(SecretTreeConfig(max_forward_gap=10, max_retained_keys=3))
    with pytest.raises(SecretTooFarAhead):
        tree.key_for(0, "application", 11)
    tree.consume(0, "application", 10)
    assert tree.key_for(0, "application", 9).generation == 9
    with pytest.raises(SecretAlreadyUsed):
        tree.key_for(0, "application", 6)
    with pytest.raises(InvalidMembership):
        tree.key_for(4, "application", 0)


def _encoded(tree: SecretTree) -> bytes:
    writer = TlsWriter()
    tree.encode(writer)
    return writer.build()


def test_a_copy_and_its_original_change_independently() -> None:
    """Copies share ratchets until one side changes one; neither sees the other's change."""
    original = _tree()
    original.consume(1, "application", 2)  # leaf 1 ratchet at generation 3, 0..1 retained
    original.next_sending_key(0, "application")
    before = _encoded(original)
    copy = original.copy()
    copy.consume(1, "application", 0)
    copy.consume(1, "application", 5)
    copy.next_sending_key(0, "application")
    copy.next_sending_key(3, "handshake")
    assert _encoded(original) == before
    assert original.key_for(1, "application", 0).generation == 0
    after_copy = _encoded(copy)
    original.consume(1, "application", 1)
    original.next_sending_key(0, "application")
    assert _encoded(copy) == after_copy
    with pytest.raises(SecretAlreadyUsed):
        copy.key_for(1, "application", 0)
    assert original.key_for(1, "application", 0) != original.key_for(1, "application", 4)
    assert copy.key_for(1, "application", 4) == original.key_for(1, "application", 4)
