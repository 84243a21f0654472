"""RFC 9420 §6.3 rejections of PrivateMessages: a replayed, forged, tampered, too-far or
non-member message raises its own error, and the receiver's ratchet keeps every key
it had (the state is byte for byte unchanged)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from helpers.mls_forge import assert_rejected, four_members
from helpers.mls_groups import Harness
from veil.crypto import DeterministicRandom
from veil.mls.errors import (
    DecryptionFailed,
    InvalidMembership,
    InvalidSignature,
    SecretAlreadyUsed,
    SecretTooFarAhead,
)
from veil.mls.framing import (
    SENDER_MEMBER,
    WIRE_PRIVATE,
    AuthenticatedContent,
    Content,
    FramedContent,
    MLSMessage,
    PrivateMessage,
    Sender,
)
from veil.mls.group_state import GroupState
from veil.mls.operations import encrypt_application
from veil.mls.processing import process_message
from veil.mls.proposals import Remove
from veil.mls.protection import encrypt_private, sign_content
from veil.mls.suites import SUITES, suite_by_id


@pytest.fixture(params=sorted(SUITES), ids=lambda suite_id: f"{suite_id:#06x}")
def group(request: pytest.FixtureRequest) -> Harness:
    """Four members m0..m3 in epoch 1, in each suite Veil implements."""
    return four_members(suite_by_id(request.param))


def seal(
    state: GroupState,
    body: Content,
    *,
    signer: bytes | None = None,
    leaf: int | None = None,
    skip: int = 0,
) -> MLSMessage:
    """``body`` as a PrivateMessage sealed with ``state``'s keys (``state`` itself is not
    advanced): from ``leaf`` (default: the member's own), signed by ``signer``
    (default: the member's key), ``skip`` generations ahead of the member's ratchet."""
    work = state.copy(with_tree=False)
    sender = Sender(SENDER_MEMBER, state.leaf_index if leaf is None else leaf)
    context = state.context
    content = FramedContent(context.group_id, context.epoch, sender, b"", body)
    key = signer or state.signature_key
    authenticated = AuthenticatedContent(
        WIRE_PRIVATE, content, sign_content(state.suite, key, WIRE_PRIVATE, content, context)
    )
    for _ in range(skip):
        work.secret_tree.next_sending_key(sender.index, "application")
    sealed = encrypt_private(
        state.suite,
        authenticated,
        work.secret_tree,
        state.secrets.sender_data_secret,
        DeterministicRandom(b"seal"),
    )
    return MLSMessage(sealed)


def test_sealed_message_is_accepted(group: Harness) -> None:
    """The control case: ``seal`` makes messages the group opens."""
    outcome = process_message(group.members["m1"], seal(group.members["m0"], b"hello"))
    assert outcome.content == b"hello"


def test_replayed_message_is_rejected(group: Harness) -> None:
    message, group.members["m0"] = encrypt_application(group.members["m0"], b"once", group.rng)
    receiver = process_message(group.members["m1"], message).state
    assert_rejected(receiver, message, SecretAlreadyUsed)


def test_message_signed_by_another_member_is_rejected(group: Harness) -> None:
    """m0 seals a message under its own ratchet but signs it with m2's key; the key it
    would have used stays available."""
    forged = seal(group.members["m0"], b"forged", signer=group.members["m2"].signature_key)
    assert_rejected(group.members["m1"], forged, InvalidSignature)


def test_private_proposal_signed_by_another_member_is_rejected(group: Harness) -> None:
    forged = seal(group.members["m0"], Remove(2), signer=group.members["m3"].signature_key)
    assert_rejected(group.members["m2"], forged, InvalidSignature)


def test_tampered_ciphertext_is_rejected(group: Harness) -> None:
    body = seal(group.members["m0"], b"hello").body
    assert isinstance(body, PrivateMessage)
    flipped = body.ciphertext[:-1] + bytes([body.ciphertext[-1] ^ 1])
    tampered = MLSMessage(replace(body, ciphertext=flipped))
    assert_rejected(group.members["m1"], tampered, DecryptionFailed)


def test_tampered_authenticated_data_is_rejected(group: Harness) -> None:
    body = seal(group.members["m0"], b"hello").body
    assert isinstance(body, PrivateMessage)
    tampered = MLSMessage(replace(body, authenticated_data=b"added on the way"))
    assert_rejected(group.members["m1"], tampered, DecryptionFailed)


def test_generation_beyond_the_forward_window_is_rejected(group: Harness) -> None:
    receiver = group.members["m1"]
    gap = receiver.config.secret_tree.max_forward_gap + 1
    assert_rejected(receiver, seal(group.members["m0"], b"late", skip=gap), SecretTooFarAhead)


def test_message_from_a_removed_leaf_is_rejected(group: Harness) -> None:
    """After m3's removal its leaf is blank, though the secret tree still has a ratchet
    for it: a message claiming to come from there is refused."""
    group.commit("m0", (Remove(3),))
    departed = group.removed["m3"]
    sender_state = group.members["m0"]
    forged = seal(sender_state, b"ghost", signer=departed.signature_key, leaf=3)
    assert_rejected(group.members["m1"], forged, InvalidMembership)
