"""Agent frames, sealed payloads, handshake payloads and queue state: codecs whole."""

from __future__ import annotations

import contextlib
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.agent.duplicates import REMEMBERED_FRAMES, CommittedFrames
from veil.agent.errors import (
    AgentProtocolError,
    ConfirmationRejected,
    ConnectionStateCorrupt,
    MalformedFrame,
)
from veil.agent.frames import (
    FRAME_SIZE,
    MAX_FRAME_BODY,
    FrameKind,
    decode_frame,
    encode_frame,
    open_sealed,
    seal,
)
from veil.agent.payloads import (
    MAX_PROFILE_SIZE,
    ChatPayload,
    Confirmation,
    ConnectInfo,
    ContactRequest,
    Hello,
    QueueAddress,
    RepairAccept,
    RepairOffer,
    decode_payload,
    encode_payload,
)
from veil.agent.queues import QueueState, ReceiveQueue, SendQueue
from veil.agent.relay_pool import DELIVERY_WINDOW
from veil.chat.profile import Profile
from veil.crypto import DeterministicRandom, X25519KeyPair

RELAY = "veil://" + "A" * 43 + "@relay.example:5223"
ALICE = Profile("Alice", "Alice Liddell", "curious").to_handshake_bytes()


def _receive_queue(seed: int = 1) -> ReceiveQueue:
    return ReceiveQueue(RELAY, bytes([seed]) * 24, bytes([seed + 1]) * 24, *[bytes(32)] * 3)


def test_frame_is_fixed_size_and_round_trips() -> None:
    for body in (b"", b"x", bytes(MAX_FRAME_BODY)):
        frame = encode_frame(FrameKind.RATCHET_MESSAGE, body)
        assert len(frame) == FRAME_SIZE
        decoded = decode_frame(frame)
        assert (decoded.kind, decoded.body) == (FrameKind.RATCHET_MESSAGE, body)


def test_frame_body_over_cap_is_refused() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        encode_frame(FrameKind.CONFIRMATION, bytes(MAX_FRAME_BODY + 1))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00\x02\x00\x02" + bytes(FRAME_SIZE - 4), "unknown frame version 0"),
        (b"\x00\x02\x01\x09" + bytes(FRAME_SIZE - 4), "unknown frame kind 9"),
        (b"\x00\x01\x01" + bytes(FRAME_SIZE - 3), "shorter than its header"),
        (b"\x00\x02\x01\x02" + bytes(FRAME_SIZE - 5) + b"\x01", "not zero"),
        (bytes(FRAME_SIZE - 1), "is 15360 bytes"),
    ],
)
def test_malformed_frames_are_rejected(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedFrame, match=reason):
        decode_frame(data)


@given(st.binary(max_size=64), st.integers(min_value=FRAME_SIZE - 2, max_value=FRAME_SIZE + 2))
def test_random_frames_only_raise_protocol_errors(prefix: bytes, size: int) -> None:
    data = (prefix + bytes(size))[:size]
    with contextlib.suppress(AgentProtocolError):
        decode_frame(data)


def test_seal_opens_only_with_the_right_key() -> None:
    rng = DeterministicRandom(b"seal")
    recipient, stranger = X25519KeyPair.generate(rng), X25519KeyPair.generate(rng)
    sealed = seal(recipient.public, b"confirmation", rng)
    assert open_sealed(recipient, sealed) == b"confirmation"
    with pytest.raises(ConfirmationRejected):
        open_sealed(stranger, sealed)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(ConfirmationRejected):
        open_sealed(recipient, tampered)
    with pytest.raises(MalformedFrame):
        open_sealed(recipient, sealed[:31])


def test_chat_payload_round_trips_and_rejects_trailing_and_missing_bytes() -> None:
    payload = ChatPayload(b"\x01chat event bytes")
    encoded = encode_payload(payload)
    assert decode_payload(encoded) == payload
    with pytest.raises(MalformedFrame):
        decode_payload(encoded + b"\x00")
    with pytest.raises(MalformedFrame):
        decode_payload(encoded[:-1])


@pytest.mark.parametrize(
    "payload",
    [
        ConnectInfo(QueueAddress(RELAY, bytes(range(24))), ALICE),
        Hello(Profile("Bob").to_handshake_bytes()),
    ],
)
def test_profile_payloads_carry_the_profile_opaque_and_capped(
    payload: ConnectInfo | Hello,
) -> None:
    # The profile ends the payload and is the application's: the agent keeps every
    # byte of it (the application's check rejects a bad one, see test_runtime).
    encoded = encode_payload(payload)
    assert decode_payload(encoded) == payload
    trailing = decode_payload(encoded + b"\x00")
    assert isinstance(trailing, ConnectInfo | Hello)
    assert trailing.profile == payload.profile + b"\x00"
    empty = encoded[: len(encoded) - len(payload.profile)]
    with pytest.raises(MalformedFrame, match="profile"):
        decode_payload(empty)
    with pytest.raises(MalformedFrame, match="profile"):
        decode_payload(empty + bytes(MAX_PROFILE_SIZE + 1))
    largest = decode_payload(empty + bytes(MAX_PROFILE_SIZE))
    assert isinstance(largest, ConnectInfo | Hello) and largest.profile == bytes(MAX_PROFILE_SIZE)


def test_unknown_payload_tag_and_bad_relay_address_are_rejected() -> None:
    with pytest.raises(MalformedFrame, match="tag 9"):
        decode_payload(b"\x09")
    bad_relay = b"\x01\x00\x04nope" + bytes(24) + b"\x00\x01A\x00\x00"
    with pytest.raises(MalformedFrame):
        decode_payload(bad_relay)


@given(st.binary(max_size=300))
def test_random_payload_bytes_only_raise_malformed_frame(data: bytes) -> None:
    with contextlib.suppress(MalformedFrame):
        decode_payload(data)


def test_confirmation_and_contact_request_round_trip() -> None:
    confirmation = Confirmation(1, b"reply", b"first message")
    assert Confirmation.from_bytes(confirmation.to_bytes()) == confirmation
    request = ContactRequest("veil://invitation#abc", ALICE)
    assert ContactRequest.from_bytes(request.to_bytes()) == request
    with pytest.raises(MalformedFrame):
        Confirmation.from_bytes(confirmation.to_bytes() + b"!")
    # The profile is the application's (opaque here); what the agent owns is checked.
    with pytest.raises(MalformedFrame):
        ContactRequest.from_bytes(request.to_bytes()[: -len(ALICE)])  # no profile at all
    with pytest.raises(MalformedFrame):
        ContactRequest.from_bytes(request.to_bytes()[:10])  # cut inside the link


def test_queue_state_round_trips_in_every_shape() -> None:
    send = SendQueue(QueueAddress(RELAY, bytes(24)), bytes(range(32)))
    shapes = [
        QueueState(_receive_queue()),
        QueueState(_receive_queue(), link_key=bytes(32), invitation_secret=b"secret"),
        QueueState(_receive_queue(), send),
        QueueState(_receive_queue(), send, delivered=CommittedFrames((b"\x01" * 24, b"\x02" * 32))),
    ]
    for state in shapes:
        assert QueueState.from_bytes(state.to_bytes()) == state


def test_queue_state_version_1_still_reads_with_no_remembered_deliveries() -> None:
    send = SendQueue(QueueAddress(RELAY, bytes(24)), bytes(range(32)))
    current = QueueState(_receive_queue(), send).to_bytes()
    # Version 1 had neither the repair key flag nor the delivery list at the end
    # (nor version 5's count of undecryptable frames, nor version 6's frame secret).
    version_1 = b"\x01" + current[1:-4]
    assert QueueState.from_bytes(version_1) == QueueState(_receive_queue(), send)


def test_queue_state_version_2_carries_its_message_ids_over() -> None:
    send = SendQueue(QueueAddress(RELAY, bytes(24)), bytes(range(32)))
    current = QueueState(_receive_queue(), send).to_bytes()
    first, second = b"\x01" * 24, b"\x02" * 24
    # Version 2 had no repair key flag, and ended with u8 count || count x 24-byte
    # relay message id.
    version_2 = b"\x02" + current[1:-4] + b"\x02" + first + second
    migrated = QueueState.from_bytes(version_2)
    assert migrated.delivered == CommittedFrames((first, second))
    assert migrated.delivered.holds(first, b"any frame")
    assert QueueState.from_bytes(migrated.to_bytes()) == migrated
    too_many = b"\x02" + current[1:-3] + bytes([REMEMBERED_FRAMES + 1]) + bytes(24 * 65)
    with pytest.raises(ConnectionStateCorrupt):
        QueueState.from_bytes(too_many)


def test_queue_state_remembers_only_the_latest_frames() -> None:
    state = QueueState(_receive_queue())
    frames = [number.to_bytes(2, "big") * 8 for number in range(REMEMBERED_FRAMES + 5)]
    for frame in frames:
        state = state.with_delivery(frame)
    assert len(state.delivered.marks) == REMEMBERED_FRAMES
    assert not state.delivered.holds(bytes(24), frames[4])
    assert state.delivered.holds(bytes(24), frames[5])
    assert state.delivered.holds(bytes(24), frames[-1])
    assert QueueState.from_bytes(state.to_bytes()) == state


def test_every_delivery_the_relay_can_send_again_is_remembered() -> None:
    # The relay resends at most one window of unacknowledged messages.
    assert DELIVERY_WINDOW <= REMEMBERED_FRAMES


def test_queue_state_version_5_reads_with_no_frame_secret() -> None:
    state = QueueState(_receive_queue(), frame_secret=bytes(range(32)))
    assert QueueState.from_bytes(state.to_bytes()) == state
    version_5 = b"\x05" + state.to_bytes()[1:-33]
    assert QueueState.from_bytes(version_5) == replace(state, frame_secret=b"")


def test_damaged_queue_state_is_reported_as_corrupt() -> None:
    data = QueueState(_receive_queue()).to_bytes()
    marks = data[:-3]  # everything before the committed frames, failure count, frame secret
    end = b"\x00\x00"
    too_many = marks + bytes([REMEMBERED_FRAMES + 1]) + (b"\x20" + bytes(32)) * 65 + end
    bad_mark = marks + b"\x01\x05" + bytes(5) + end
    for damaged in (
        b"\x09" + data[1:],
        data + b"\x00",
        data[:-1],
        marks + b"\x07" + end,
        data[:-1] + b"\x05" + bytes(5),  # a frame secret is 32 bytes
        too_many,
        bad_mark,
    ):
        with pytest.raises(ConnectionStateCorrupt):
            QueueState.from_bytes(damaged)


def test_repair_payloads_round_trip_and_are_strict() -> None:
    offer = RepairOffer(1, b"invitation keys")
    accept = RepairAccept(b"reply keys", b"first message")
    assert RepairOffer.from_bytes(offer.to_bytes()) == offer
    assert RepairAccept.from_bytes(accept.to_bytes()) == accept
    for damaged in (offer.to_bytes() + b"\x00", offer.to_bytes()[:-1]):
        with pytest.raises(MalformedFrame):
            RepairOffer.from_bytes(damaged)
    with pytest.raises(MalformedFrame):
        RepairAccept.from_bytes(accept.to_bytes()[:-1])
