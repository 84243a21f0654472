"""Chat events and profiles: byte layouts, round trips, caps, and fuzzing of the parsers."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.chat.errors import ChatProtocolError, MalformedEvent, UnsupportedEventVersion
from veil.chat.events import (
    CHAT_EVENT_VERSIONS,
    MAX_RECEIPT_IDS,
    MAX_TEXT_BYTES,
    MESSAGE_ID_SIZE,
    ChatEvent,
    FileOffered,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    ProfileUpdated,
    ReactionChanged,
    ReceiptIssued,
    ReceiptStatus,
    decode_event,
    encode_event,
    new_message_id,
)
from veil.chat.profile import DISPLAY_NAME_MAX_BYTES, Profile
from veil.crypto import DeterministicRandom

ID_A = bytes(range(16))
ID_B = bytes(range(16, 32))


def test_message_posted_layout_byte_by_byte() -> None:
    event = MessagePosted(ID_A, "hi", sent_at_ms=258, reply_to=ID_B)
    expected = "01" + "01" + ID_A.hex() + "0000000000000102" + "01" + ID_B.hex() + "0002" + "6869"
    assert encode_event(event).hex() == expected


def test_profile_layout_byte_by_byte() -> None:
    assert Profile("Al", bio="x").to_bytes().hex() == "01" + "0002416c" + "00" + "01" + "000178"


EXAMPLES: list[ChatEvent] = [
    MessagePosted(ID_A, "hello\nworld", sent_at_ms=1_700_000_000_000),
    MessagePosted(ID_A, "a reply", sent_at_ms=0, reply_to=ID_B),
    MessageEdited(ID_A, "hello, edited"),
    MessageDeleted(ID_B),
    ReactionChanged(ID_A, "👍", added=True),
    ReactionChanged(ID_A, "👍", added=False),
    ReceiptIssued(ReceiptStatus.READ, (ID_A, ID_B)),
    ProfileUpdated(Profile("Alice", full_name="Alice Liddell", bio="Down the\nrabbit hole")),
    ProfileUpdated(Profile("Bob")),
    FileOffered(ID_A, 1_700_000_000_000, b"\x01description", b"\xff\xd8preview"),
    FileOffered(ID_B, 0, b"d"),
]


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: type(e).__name__)
def test_every_event_round_trips_and_rejects_trailing_bytes(event: ChatEvent) -> None:
    data = encode_event(event)
    assert decode_event(data) == event
    with pytest.raises(MalformedEvent, match="trailing"):
        decode_event(data + b"\x00")
    for cut in range(len(data)):
        with pytest.raises(ChatProtocolError):
            decode_event(data[:cut])


def test_unknown_version_and_tag_are_rejected() -> None:
    data = encode_event(MessageDeleted(ID_A))
    assert data[0] == CHAT_EVENT_VERSIONS.minimum  # what every client of the range reads
    newer = bytes([CHAT_EVENT_VERSIONS.maximum + 1])
    with pytest.raises(UnsupportedEventVersion, match="newer Veil; update"):
        decode_event(newer + data[1:])
    with pytest.raises(UnsupportedEventVersion, match="outside"):
        decode_event(b"\x00" + data[1:])
    with pytest.raises(MalformedEvent, match="unknown chat event tag"):
        decode_event(data[:1] + b"\x63" + data[2:])


def test_hostile_fields_are_rejected_on_decode() -> None:
    good = encode_event(MessagePosted(ID_A, "ok", sent_at_ms=1))
    header = good[: 2 + MESSAGE_ID_SIZE + 8]
    with pytest.raises(MalformedEvent, match="reply flag"):
        decode_event(header + b"\x02" + b"\x00\x02ok")
    with pytest.raises(MalformedEvent, match="control character"):
        decode_event(header + b"\x00" + b"\x00\x04\x1b[2J")
    with pytest.raises(MalformedEvent, match="utf-8"):
        decode_event(header + b"\x00" + b"\x00\x02\xff\xfe")
    over_cap = (MAX_TEXT_BYTES + 1).to_bytes(2, "big")
    with pytest.raises(MalformedEvent, match="cap"):
        decode_event(header + b"\x00" + over_cap + b"a" * (MAX_TEXT_BYTES + 1))


def test_receipt_count_and_status_are_checked() -> None:
    data = encode_event(ReceiptIssued(ReceiptStatus.DELIVERED, (ID_A,)))
    with pytest.raises(MalformedEvent, match="status"):
        decode_event(data[:2] + b"\x09" + data[3:])
    with pytest.raises(MalformedEvent, match="names 0"):
        decode_event(data[:3] + b"\x00")
    with pytest.raises(ValueError, match=r"1\.\.64"):
        ReceiptIssued(ReceiptStatus.READ, (ID_A,) * (MAX_RECEIPT_IDS + 1))


def test_constructors_reject_misuse_early() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        MessageDeleted(b"short")
    with pytest.raises(ValueError, match="empty"):
        MessagePosted(ID_A, "   ", sent_at_ms=0)
    for not_emoji in ("a b", "ok", "👍 ", "lol👍", "1"):
        with pytest.raises(ValueError, match="emoji, not text"):
            ReactionChanged(ID_A, not_emoji, added=True)
    for emoji in ("👍", "❤️", "👍🏽", "👨\u200d👩\u200d👧", "1️⃣", "🇫🇷"):
        assert ReactionChanged(ID_A, emoji, added=True).emoji == emoji
    with pytest.raises(ValueError, match="cap"):
        Profile("x" * (DISPLAY_NAME_MAX_BYTES + 1))
    with pytest.raises(ValueError, match="control"):
        Profile("tab\tname")


def test_profile_rejects_bad_presence_flag_and_version() -> None:
    data = Profile("Al").to_bytes()
    with pytest.raises(MalformedEvent, match="presence"):
        Profile.from_bytes(data[:-2] + b"\x07\x00")
    with pytest.raises(UnsupportedEventVersion):
        Profile.from_bytes(b"\x09" + data[1:])


def test_handshake_profile_is_the_profile_without_its_version_byte() -> None:
    profile = Profile("Alice", full_name="Alice Liddell", bio="curious")
    data = profile.to_handshake_bytes()
    assert data == profile.to_bytes()[1:]
    assert Profile.from_handshake_bytes(data) == profile
    for bad in (data + b"\x00", data[:-1], b"", b"\x00\x00\x00\x00"):
        with pytest.raises(MalformedEvent):
            Profile.from_handshake_bytes(bad)


@given(st.binary(max_size=200))
def test_random_handshake_profiles_only_raise_chat_protocol_errors(data: bytes) -> None:
    try:
        profile = Profile.from_handshake_bytes(data)
    except ChatProtocolError:
        return
    assert profile.to_handshake_bytes() == data  # anything accepted is canonical


def test_message_ids_come_from_the_injected_random_source() -> None:
    first = new_message_id(DeterministicRandom(b"seed"))
    assert first == new_message_id(DeterministicRandom(b"seed"))
    assert len(first) == MESSAGE_ID_SIZE


message_ids = st.binary(min_size=MESSAGE_ID_SIZE, max_size=MESSAGE_ID_SIZE)
clean_text = st.text(
    st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=200
).filter(str.strip)
events = st.one_of(
    st.builds(
        MessagePosted,
        message_ids,
        clean_text,
        st.integers(0, 2**64 - 1),
        st.none() | message_ids,
    ),
    st.builds(MessageEdited, message_ids, clean_text),
    st.builds(MessageDeleted, message_ids),
    st.builds(
        ReactionChanged, message_ids, st.sampled_from(["👍", "❤️", "🎉", "👩‍💻"]), st.booleans()
    ),
    st.builds(
        ReceiptIssued,
        st.sampled_from(ReceiptStatus),
        st.lists(message_ids, min_size=1, max_size=5).map(tuple),
    ),
    st.builds(
        ProfileUpdated,
        st.builds(Profile, clean_text.filter(lambda t: len(t.encode()) <= 100), st.none()),
    ),
)


@given(events)
def test_any_event_round_trips(event: ChatEvent) -> None:
    assert decode_event(encode_event(event)) == event


@given(st.binary(max_size=300))
def test_random_bytes_only_raise_chat_protocol_errors(data: bytes) -> None:
    try:
        event = decode_event(data)
    except ChatProtocolError:
        return
    assert encode_event(event) == data  # anything accepted is canonical


@given(events, st.integers(0, 10_000), st.integers(0, 255))
def test_single_byte_corruption_never_escapes_the_error_hierarchy(
    event: ChatEvent, position: int, value: int
) -> None:
    data = bytearray(encode_event(event))
    data[position % len(data)] = value
    with contextlib.suppress(ChatProtocolError):
        decode_event(bytes(data))


def test_names_refuse_bidirectional_overrides_that_would_reorder_the_line() -> None:
    spoofed = "mallory\u202e:olleh"
    with pytest.raises(ValueError, match="bidirectional control U\\+202E"):
        Profile(spoofed)
    with pytest.raises(MalformedEvent, match="bidirectional"):
        # ProfileUpdated whose 7-byte display name is "m" U+2066 "all"; no other fields.
        decode_event(b"\x01\x06\x00\x07m\xe2\x81\xa6all\x00\x00")
    # Free text keeps them: right-to-left writers may need them inside a message.
    assert MessagePosted(ID_A, "\u2067\u05e9\u05dc\u05d5\u05dd\u2069", sent_at_ms=1).text


def test_file_offer_layout_and_caps() -> None:
    offer = FileOffered(ID_A, 258, b"DD", b"P")
    expected = "01" + "07" + ID_A.hex() + "0000000000000102" + "0002" + "4444" + "0001" + "50"
    assert encode_event(offer).hex() == expected
    with pytest.raises(ValueError, match="description"):
        FileOffered(ID_A, 0, b"")
    with pytest.raises(ValueError, match="preview"):
        FileOffered(ID_A, 0, b"d", bytes(4097))
    too_long = bytes.fromhex(expected[:52]) + (7169).to_bytes(2, "big") + bytes(7169) + bytes(2)
    with pytest.raises(MalformedEvent):
        decode_event(too_long)
