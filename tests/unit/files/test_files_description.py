"""The description codec: round trips, strictness, and redirects."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.crypto.primitives import sha256
from veil.crypto.random import DeterministicRandom
from veil.files.description import (
    MAX_INLINE_DESCRIPTION,
    ChunkLocation,
    EncryptedBlob,
    FileDescription,
    RedirectDescription,
    decode_description,
    encode_description,
    follow_redirect,
)
from veil.files.errors import MalformedDescription
from veil.files.layout import plan_layout
from veil.files.stream import FileSecret

RELAYS = ("veil://fp-one@one.example", "veil://fp-two@two.example:5223")


def blob(size: int, seed: bytes = b"d") -> EncryptedBlob:
    rng = DeterministicRandom(seed)
    chunks = tuple(
        ChunkLocation(i % 2, rng.random_bytes(24), rng.random_bytes(32), rng.random_bytes(32))
        for i in range(plan_layout(size).chunk_count)
    )
    return EncryptedBlob(size, FileSecret.generate(rng), RELAYS, chunks)


PHOTO = FileDescription("holiday photo.jpg", "image/jpeg", blob(3_000_000))


def test_round_trip_and_layout() -> None:
    encoded = encode_description(PHOTO)
    assert decode_description(encoded) == PHOTO
    assert encoded[:2] == b"\x01\x01"  # version 1, kind FILE
    assert len(encoded) <= MAX_INLINE_DESCRIPTION


def test_known_bytes_of_a_one_chunk_description() -> None:
    chunk = ChunkLocation(0, bytes(24), bytes(range(32)), b"\xdd" * 32)
    small = EncryptedBlob(5, FileSecret(b"\xaa" * 32, b"\xbb" * 7), RELAYS[:1], (chunk,))
    encoded = encode_description(FileDescription("a.txt", "text/plain", small))
    relay = RELAYS[0].encode()
    expected = (
        b"\x01\x01" + b"\x00\x05a.txt" + b"\x0atext/plain" + (5).to_bytes(8, "big")
        + b"\xaa" * 32 + b"\xbb" * 7 + b"\x01" + len(relay).to_bytes(2, "big") + relay
        + b"\x00\x01" + b"\x00" + bytes(24) + bytes(range(32)) + b"\xdd" * 32
    )  # fmt: skip
    assert encoded == expected


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e + b"\x00",
        lambda e: e[:-1],
        lambda e: b"\x02" + e[1:],
        lambda e: e[:1] + b"\x09" + e[2:],
    ],
    ids=["trailing", "truncated", "version", "kind"],
)
def test_malformed_encodings_are_rejected(mutate: object) -> None:
    encoded = encode_description(PHOTO)
    with pytest.raises(MalformedDescription):
        decode_description(mutate(encoded))  # type: ignore[operator]


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\\b", "bell\x07", "rtl\u202e.exe"])
def test_hostile_names_are_refused_both_ways(name: str) -> None:
    with pytest.raises(ValueError):
        encode_description(replace(PHOTO, name=name))
    good = encode_description(replace(PHOTO, name="x"))
    raw = name.encode()
    forged = good[:2] + len(raw).to_bytes(2, "big") + raw + good[5:]
    with pytest.raises(MalformedDescription):
        decode_description(forged)


@pytest.mark.parametrize("mime", ["", "image", "Image/JPEG", "text/plain; charset=x"])
def test_bad_mime_types_are_refused(mime: str) -> None:
    with pytest.raises(ValueError):
        encode_description(replace(PHOTO, mime_type=mime))


def test_chunk_count_must_match_the_size() -> None:
    wrong = replace(PHOTO.blob, size=100)
    with pytest.raises(ValueError, match="do not match"):
        encode_description(replace(PHOTO, blob=wrong))


def test_large_file_needs_a_redirect_and_the_redirect_is_checked() -> None:
    big = FileDescription("film.mkv", "video/x-matroska", blob(1 << 30))
    target = encode_description(big)
    assert len(target) > MAX_INLINE_DESCRIPTION
    redirect = RedirectDescription(sha256(target), blob(len(target), b"r"))
    encoded = encode_description(redirect)
    assert len(encoded) <= MAX_INLINE_DESCRIPTION
    decoded = decode_description(encoded)
    assert isinstance(decoded, RedirectDescription)
    assert follow_redirect(decoded, target) == big
    with pytest.raises(MalformedDescription, match="digest"):
        follow_redirect(decoded, target[:-1] + b"\x00")
    with pytest.raises(MalformedDescription, match="size"):
        follow_redirect(decoded, target + b"\x00")


def test_a_redirect_may_not_lead_to_a_redirect() -> None:
    inner = encode_description(RedirectDescription(bytes(32), blob(10)))
    outer = RedirectDescription(sha256(inner), blob(len(inner)))
    with pytest.raises(MalformedDescription, match="another redirect"):
        follow_redirect(outer, inner)


@given(st.binary(max_size=4096))
def test_decoder_only_raises_malformed_description(data: bytes) -> None:
    try:
        decoded = decode_description(data)
    except MalformedDescription:
        return
    assert encode_description(decoded) == data  # one encoding per description


@given(st.data())
def test_mutated_descriptions_never_escape_the_error_type(data: st.DataObject) -> None:
    encoded = bytearray(encode_description(PHOTO))
    position = data.draw(st.integers(0, len(encoded) - 1))
    encoded[position] = data.draw(st.integers(0, 255))
    try:
        decoded = decode_description(bytes(encoded))
    except MalformedDescription:
        return
    assert encode_description(decoded) == bytes(encoded)
