"""Invitation and contact-address links: both text forms, strict decoding, fuzzing, QR."""

from __future__ import annotations

import base64
import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.agent.errors import MalformedLink
from veil.agent.links import (
    CHECKSUM_SIZE,
    MAX_LINK_QUEUES,
    ContactAddressLink,
    InvitationLink,
    Link,
    LinkQueue,
    decode_link,
    encode_link,
    render_qr,
)
from veil.crypto import sha256
from veil.relay.protocol.address import encode_fingerprint
from veil.wire import VersionRange

RELAY = "veil://" + encode_fingerprint(bytes(range(32))) + "@relay.example.org,abc.onion:7000"
QUEUE = LinkQueue(RELAY, sender_id=b"\x11" * 24, link_key=b"\x22" * 32)
INVITATION = InvitationLink((QUEUE,), VersionRange(1, 2), VersionRange(1, 1), b"\x33" * 1250)
ADDRESS = ContactAddressLink((QUEUE, QUEUE), VersionRange(1, 3))


def payload(text: str) -> bytes:
    encoded = text.partition("#")[2]
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))


def relink(kind: str, data: bytes) -> str:
    """A link of ``data`` as it is (a version 1 payload, or a damaged one)."""
    return f"veil://{kind}#" + base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def resealed(kind: str, body: bytes) -> str:
    """A version 2 link of ``body`` with a correct checksum (to reach the inner checks)."""
    return relink(kind, body + sha256(body)[:CHECKSUM_SIZE])


def test_contact_address_payload_byte_by_byte() -> None:
    link = ContactAddressLink((QUEUE,), VersionRange(1, 3))
    queue = len(RELAY).to_bytes(2, "big").hex() + RELAY.encode().hex() + "11" * 24 + "22" * 32
    body = "02" + "02" + "00010003" + "01" + queue + "0000"  # no ML-KEM key
    checksum = sha256(bytes.fromhex(body))[:CHECKSUM_SIZE].hex()
    assert payload(encode_link(link)).hex() == body + checksum


def test_a_corrupted_link_fails_its_checksum_and_version_1_links_still_decode() -> None:
    text = encode_link(INVITATION)
    position = len(text) // 2
    corrupted = text[:position] + ("B" if text[position] != "B" else "C") + text[position + 1 :]
    with pytest.raises(MalformedLink, match="checksum does not match"):
        decode_link(corrupted)
    body = payload(text)[:-CHECKSUM_SIZE]
    assert decode_link(relink("invitation", b"\x01" + body[1:])) == INVITATION


@pytest.mark.parametrize("link", [INVITATION, ADDRESS], ids=["invitation", "contact"])
@pytest.mark.parametrize("https", [False, True])
def test_both_text_forms_round_trip(link: Link, https: bool) -> None:
    text = encode_link(link, https=https)
    prefix = "https://veil.link/" if https else "veil://"
    assert text.startswith(prefix + link.KIND.path + "#")
    assert decode_link(text) == link
    assert decode_link(f"  {text}\n") == link  # pasted with whitespace around it


def test_the_two_kinds_cannot_be_confused() -> None:
    text = encode_link(INVITATION)
    with pytest.raises(MalformedLink, match="not a contact link"):
        decode_link(text.replace("veil://invitation#", "veil://contact#"))
    assert isinstance(decode_link(encode_link(ADDRESS)), ContactAddressLink)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("http://veil.link/invitation#AQ", "not a Veil link"),
        ("veil://invite#AQ", "'invite' is not a kind of Veil link"),
        ("veil://invitation", "not a kind of Veil link"),
        ("veil://invitation#AQ==", "damaged"),
        ("veil://invitation#A", "damaged"),
        ("veil://invitation#AR", "damaged"),
        ("veil://invitation#", "no data"),
        ("veil://invitation#" + "A" * 20_000, "characters"),
    ],
)
def test_malformed_text_is_rejected(text: str, error: str) -> None:
    with pytest.raises(MalformedLink, match=error):
        decode_link(text)


def test_malformed_payloads_are_rejected() -> None:
    data = payload(encode_link(INVITATION))[:-CHECKSUM_SIZE]
    with pytest.raises(MalformedLink, match="trailing"):
        decode_link(resealed("invitation", data + b"\x00"))
    with pytest.raises(MalformedLink, match="update Veil"):
        decode_link(resealed("invitation", b"\x03" + data[1:]))
    with pytest.raises(MalformedLink, match=r"1\.\.4 queues"):
        decode_link(resealed("invitation", data[:10] + b"\x05" + data[11:]))
    bad_relay = data.replace(b"relay.example.org", b"relay.example.org/x")
    bad_relay = bad_relay.replace(
        len(RELAY).to_bytes(2, "big"), (len(RELAY) + 2).to_bytes(2, "big")
    )
    with pytest.raises(MalformedLink, match="copy the whole link again"):
        decode_link(resealed("invitation", bad_relay))
    for cut in range(0, len(data), 97):
        with pytest.raises(MalformedLink):
            decode_link(resealed("invitation", data[:cut]))


def test_constructors_reject_misuse() -> None:
    with pytest.raises(ValueError, match="canonical"):
        LinkQueue(RELAY.replace("relay.example.org", "RELAY.example.org"), b"\x11" * 24, b"k" * 32)
    with pytest.raises(ValueError, match="sender id"):
        LinkQueue(RELAY, b"short", b"\x22" * 32)
    with pytest.raises(ValueError, match=r"1\.\.4 queues"):
        ContactAddressLink((QUEUE,) * (MAX_LINK_QUEUES + 1), VersionRange(1, 1))
    with pytest.raises(ValueError, match="ratchet invitation"):
        InvitationLink((QUEUE,), VersionRange(1, 1), VersionRange(1, 1), b"")


def test_qr_code_renders_the_link_in_half_blocks() -> None:
    art = render_qr(encode_link(INVITATION))
    lines = art.splitlines()
    assert len(lines) > 40 and len({len(line) for line in lines}) == 1
    assert set(art) <= set("█▀▄ \n")


queues = st.builds(
    LinkQueue,
    st.just(RELAY),
    st.binary(min_size=24, max_size=24),
    st.binary(min_size=32, max_size=32),
)
versions = st.tuples(st.integers(1, 0xFFFF), st.integers(1, 0xFFFF)).map(
    lambda pair: VersionRange(min(pair), max(pair))
)
links = st.one_of(
    st.builds(
        InvitationLink,
        st.lists(queues, min_size=1, max_size=MAX_LINK_QUEUES).map(tuple),
        versions,
        versions,
        st.binary(min_size=1, max_size=300),
    ),
    st.builds(ContactAddressLink, st.lists(queues, min_size=1, max_size=4).map(tuple), versions),
)


@given(links, st.booleans())
def test_any_link_round_trips(link: Link, https: bool) -> None:
    assert decode_link(encode_link(link, https=https)) == link


@given(st.sampled_from(["invitation", "contact"]), st.binary(max_size=200))
def test_random_payloads_only_raise_malformed_link(kind: str, data: bytes) -> None:
    try:
        link = decode_link(relink(kind, data))
    except MalformedLink:
        return
    assert payload(encode_link(link)) == data


@given(st.text(max_size=100))
def test_random_text_only_raises_malformed_link(text: str) -> None:
    with contextlib.suppress(MalformedLink):
        decode_link(text)


@given(links, st.integers(0, 100_000), st.integers(0, 255))
def test_single_byte_corruption_only_raises_malformed_link(
    link: Link, position: int, value: int
) -> None:
    text = encode_link(link)
    data = bytearray(payload(text))
    data[position % len(data)] = value
    with contextlib.suppress(MalformedLink):
        decode_link(relink(text.partition("#")[0].removeprefix("veil://"), bytes(data)))
