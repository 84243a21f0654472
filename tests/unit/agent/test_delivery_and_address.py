"""Outbox entries, retry backoff, contact-address requests and link translation."""

from __future__ import annotations

import pytest

from helpers.peers import invite_peer
from veil.agent.address import (
    AddressState,
    address_send_queue,
    address_sender_key,
    open_contact_request,
    seal_contact_request,
)
from veil.agent.delivery import (
    BACKOFF_CAP_SECONDS,
    ActionKind,
    OutboxEntry,
    next_attempt_at,
)
from veil.agent.errors import ConfirmationRejected, ConnectionStateCorrupt, UnexpectedFrame
from veil.agent.frames import FRAME_SIZE, FrameKind, decode_frame, encode_frame, open_sealed
from veil.agent.invitations import address_link, invitation_from_link, invitation_to_link
from veil.agent.links import ContactAddressLink, decode_link, encode_link
from veil.agent.payloads import ContactRequest, QueueAddress
from veil.agent.queues import ReceiveQueue
from veil.chat.profile import Profile
from veil.crypto import DeterministicRandom, MlKem768KeyPair, X25519KeyPair

RELAY = "veil://" + "A" * 43 + "@relay.example"
QUEUE = QueueAddress(RELAY, bytes(range(24)))


def _receive_queue() -> ReceiveQueue:
    return ReceiveQueue(RELAY, bytes(24), bytes(range(24)), *[bytes(32)] * 3)


@pytest.mark.parametrize(
    "entry",
    [
        OutboxEntry(ActionKind.SECURE_PEER_QUEUE),
        OutboxEntry(ActionKind.SEND_FRAME, bytes(FRAME_SIZE)),
        OutboxEntry(ActionKind.SEND_TO_ADDRESS, b"\x01" * FRAME_SIZE, QUEUE, b"\x02" * 32),
    ],
)
def test_outbox_entries_round_trip_and_reject_damage(entry: OutboxEntry) -> None:
    data = entry.to_bytes()
    assert OutboxEntry.from_bytes(data) == entry
    for damaged in (data + b"\x00", data[:-1], b"\x09" + data[1:], data[:1] + b"\x07" + data[2:]):
        with pytest.raises(ConnectionStateCorrupt):
            OutboxEntry.from_bytes(damaged)


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    rng = DeterministicRandom(b"backoff")
    first = [next_attempt_at(0, 100.0, rng) - 100.0 for _ in range(50)]
    assert all(0.5 <= delay <= 1.0 for delay in first)
    assert len(set(first)) > 1  # jitter spreads clients out
    fifth = next_attempt_at(5, 0.0, rng)
    assert 16.0 <= fifth <= 32.0
    assert next_attempt_at(60, 0.0, rng) <= BACKOFF_CAP_SECONDS


def test_contact_request_opens_only_at_its_address() -> None:
    rng = DeterministicRandom(b"address")
    state, other = (
        AddressState.create(_receive_queue(), rng),
        AddressState.create(_receive_queue(), rng),
    )
    request = ContactRequest("veil://invitation#AQ", Profile("Carol").to_handshake_bytes())
    assert state.kem is not None
    classic = seal_contact_request(state.address_key_public, request, rng)
    hybrid = seal_contact_request(state.address_key_public, request, rng, state.kem.public)
    # F6: the hybrid seal carries an ML-KEM-768 ciphertext; an older requester's
    # X25519-only seal still opens.
    with pytest.raises(ConfirmationRejected):  # the X25519 key alone does not open it
        open_sealed(X25519KeyPair(state.address_key), decode_frame(hybrid).body)
    for frame in (classic, hybrid):
        assert open_contact_request(state, frame) == request
        with pytest.raises(ConfirmationRejected):
            open_contact_request(other, frame)
    with pytest.raises(UnexpectedFrame):
        open_contact_request(state, encode_frame(FrameKind.RATCHET_MESSAGE, b"x"))
    assert AddressState.from_bytes(state.to_bytes()) == state


def test_every_requester_derives_the_same_address_sender_key() -> None:
    rng = DeterministicRandom(b"sender key")
    state = AddressState.create(_receive_queue(), rng)
    key = address_sender_key(state.address_key_public)
    assert address_send_queue(QUEUE, state.address_key_public).sender_auth_key == key.private
    other = AddressState.create(_receive_queue(), rng)
    assert address_sender_key(other.address_key_public).public != key.public


def test_invitation_survives_the_link_text_round_trip() -> None:
    rng = DeterministicRandom(b"link")
    _, invitation = invite_peer(_receive_queue(), Profile("Alice").to_handshake_bytes(), rng)
    text = encode_link(invitation_to_link(invitation))
    link = decode_link(text)
    assert invitation_from_link(link) == invitation  # type: ignore[arg-type]
    address = decode_link(encode_link(address_link(QUEUE, b"\x05" * 32, None)))
    assert address.queues[0].link_key == b"\x05" * 32
    kem_public = MlKem768KeyPair.generate(rng).public
    hybrid = decode_link(encode_link(address_link(QUEUE, b"\x05" * 32, kem_public)))
    assert isinstance(hybrid, ContactAddressLink) and hybrid.kem_public == kem_public
