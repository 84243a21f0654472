"""Short invitation links: the codec, the sealed blob, one-time fetch and the QR size."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.fake_relay import FakeRelay
from veil.agent.connection import Connection
from veil.agent.errors import MalformedLink, ShortLinkCorrupt, ShortLinkGone
from veil.agent.frames import FRAME_SIZE
from veil.agent.invitations import invitation_to_link
from veil.agent.links import encode_link, render_qr
from veil.agent.queues import ReceiveQueue
from veil.agent.short_links import (
    SHORT_LINK_LIFETIME,
    ShortLink,
    is_short_link,
    open_blob,
    publish_short_link,
    resolve_short_link,
    seal_blob,
)
from veil.crypto import DeterministicRandom
from veil.relay.protocol.address import RelayAddress

RELAY = str(RelayAddress.parse("veil://" + "A" * 43 + "@relay.example.org:5223"))
LINK = ShortLink(RELAY, b"\x01" * 24, b"\x02" * 32, b"\x03" * 32)
NOW = 1_800_000_000
#: What fits an 80-column terminal with room to spare (and a phone camera at arm's length).
TERMINAL_QR_WIDTH = 65


def _width(art: str) -> int:
    return max(len(line) for line in art.splitlines())


def test_a_short_link_round_trips_in_both_text_forms() -> None:
    for text in (LINK.encode(), LINK.encode(https=True)):
        assert is_short_link(text) and ShortLink.decode(f" {text}\n") == LINK
    assert LINK.encode().startswith("veil://s#")
    assert not is_short_link("veil://invitation#AQ")


def test_damaged_short_links_are_refused() -> None:
    text = LINK.encode()
    flipped = text[:20] + ("B" if text[20] != "B" else "C") + text[21:]
    for damaged, match in (
        (flipped, "damaged"),
        (text[:-3], "damaged"),
        ("veil://invitation#AQ", "not a short"),
        (text + "A" * 600, "not a short"),
    ):
        with pytest.raises(MalformedLink, match=match):
            ShortLink.decode(damaged)


@given(st.binary(max_size=200))
def test_random_short_link_data_raises_only_malformed_link(data: bytes) -> None:
    text = "veil://s#" + base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    try:
        ShortLink.decode(text)
    except MalformedLink:
        return


def test_the_blob_fills_a_frame_and_opens_only_with_the_links_key_until_it_expires() -> None:
    rng = DeterministicRandom(b"blob")
    invitation = "veil://invitation#" + "A" * 2600
    blob = seal_blob(LINK, invitation, NOW + 10, rng)
    assert len(blob) == FRAME_SIZE
    assert open_blob(LINK, blob, NOW) == invitation
    with pytest.raises(ShortLinkCorrupt):
        open_blob(replace(LINK, auth_key=b"\x04" * 32), blob, NOW)
    with pytest.raises(ShortLinkCorrupt):
        open_blob(LINK, blob[:-1] + bytes([blob[-1] ^ 1]), NOW)
    with pytest.raises(ShortLinkGone, match="expired"):
        open_blob(LINK, blob, NOW + 11)


async def test_a_published_invitation_is_fetched_once() -> None:
    relay, rng = FakeRelay(), DeterministicRandom(b"publish")
    invitation = "veil://invitation#" + "B" * 2600
    link = await publish_short_link(relay, RELAY, invitation, rng, NOW)
    text = link.encode()
    assert await resolve_short_link(relay, text, NOW + SHORT_LINK_LIFETIME) == invitation
    with pytest.raises(ShortLinkGone, match="used already"):
        await resolve_short_link(relay, text, NOW)


def test_a_short_links_qr_code_fits_a_terminal_where_the_long_one_does_not() -> None:
    queue = ReceiveQueue(RELAY, b"\x05" * 24, b"\x06" * 24, *[bytes(32)] * 3)
    _, invitation = Connection.invite(queue, b"profile", DeterministicRandom(b"qr"), pq=True)
    long_width = _width(render_qr(encode_link(invitation_to_link(invitation))))
    short_width = _width(render_qr(LINK.encode()))
    # Measured: 153 columns for the long link, 61 for the short one.
    assert long_width > 140
    assert short_width <= TERMINAL_QR_WIDTH
