"""STREAM encryption of files: round trips, and every rearrangement detected."""

from __future__ import annotations

import io

import pytest

from helpers.files import stage
from veil.crypto.random import DeterministicRandom
from veil.files.errors import SourceChanged, StreamAuthenticationFailed
from veil.files.layout import SEGMENT_PLAINTEXT_SIZE, SEGMENT_SIZE, plan_layout
from veil.files.stream import FileSecret, SegmentCipher, encrypt_stream

DATA = bytes(range(256)) * 1100  # 281,600 bytes: five segments


def segments_of(staged: bytes) -> list[bytes]:
    return [staged[i : i + SEGMENT_SIZE] for i in range(0, len(staged), SEGMENT_SIZE)]


def decrypt(secret: FileSecret, size: int, segments: list[bytes]) -> bytes:
    cipher = SegmentCipher(secret, plan_layout(size))
    return b"".join(cipher.open(i, segment) for i, segment in enumerate(segments))


@pytest.mark.parametrize("size", [0, 1, SEGMENT_PLAINTEXT_SIZE, SEGMENT_PLAINTEXT_SIZE + 1, 281600])
def test_round_trip_of_any_size(size: int) -> None:
    data = DATA[:size]
    staged = stage(data)
    assert len(staged.staged) == staged.layout.encrypted_size
    assert decrypt(staged.secret, size, segments_of(staged.staged)) == data


def test_ciphertext_hides_the_plaintext_and_the_padding() -> None:
    staged = stage(b"MARKER" * 1000)
    assert b"MARKER" not in staged.staged
    assert bytes(64) not in staged.staged  # padding zeros are encrypted too


def test_reordered_segments_fail() -> None:
    staged = stage(DATA)
    segments = segments_of(staged.staged)
    segments[1], segments[2] = segments[2], segments[1]
    with pytest.raises(StreamAuthenticationFailed, match="segment 1"):
        decrypt(staged.secret, len(DATA), segments)


def test_truncation_fails_because_the_new_last_segment_is_not_marked_last() -> None:
    staged = stage(DATA)
    segments = segments_of(staged.staged)
    truncated_size = (len(segments) - 1) * SEGMENT_PLAINTEXT_SIZE
    with pytest.raises(StreamAuthenticationFailed, match="segment 3"):
        decrypt(staged.secret, truncated_size, segments[:-1])


def test_extension_fails_because_the_old_last_segment_is_marked_last() -> None:
    staged = stage(DATA)
    segments = segments_of(staged.staged)
    extended = [*segments, segments[-1]]
    assert plan_layout(len(extended) * SEGMENT_PLAINTEXT_SIZE).segment_count == len(extended)
    with pytest.raises(StreamAuthenticationFailed, match="segment 4"):
        decrypt(staged.secret, len(extended) * SEGMENT_PLAINTEXT_SIZE, extended)


def test_flipped_bit_and_wrong_key_fail() -> None:
    staged = stage(DATA)
    segments = segments_of(staged.staged)
    segments[0] = bytes([segments[0][0] ^ 1]) + segments[0][1:]
    with pytest.raises(StreamAuthenticationFailed):
        decrypt(staged.secret, len(DATA), segments)
    other = FileSecret.generate(DeterministicRandom(b"other"))
    with pytest.raises(StreamAuthenticationFailed):
        decrypt(other, len(DATA), segments_of(staged.staged))


def test_short_segment_is_rejected() -> None:
    staged = stage(b"x")
    cipher = SegmentCipher(staged.secret, plan_layout(1))
    with pytest.raises(StreamAuthenticationFailed, match="not 65536"):
        cipher.open(0, staged.staged[:-1])


def test_a_source_that_changed_size_is_refused() -> None:
    secret = FileSecret.generate(DeterministicRandom(b"s"))
    with pytest.raises(SourceChanged, match="shrank"):
        list(encrypt_stream(secret, plan_layout(100), io.BytesIO(b"x" * 99).read))
    with pytest.raises(SourceChanged, match="grew"):
        list(encrypt_stream(secret, plan_layout(100), io.BytesIO(b"x" * 101).read))


def test_encryption_reads_one_segment_at_a_time() -> None:
    reads: list[int] = []
    source = io.BytesIO(DATA)

    def read(n: int) -> bytes:
        reads.append(n)
        return source.read(n)

    secret = FileSecret.generate(DeterministicRandom(b"s"))
    stream = encrypt_stream(secret, plan_layout(len(DATA)), read)
    next(stream)
    assert reads == [SEGMENT_PLAINTEXT_SIZE]
    assert max(len(segment) for segment in stream) == SEGMENT_SIZE
    assert max(reads) <= SEGMENT_PLAINTEXT_SIZE


def test_nonces_are_distinct_per_segment_and_mark_only_the_last() -> None:
    secret = FileSecret(bytes(32), b"prefix7")
    cipher = SegmentCipher(secret, plan_layout(3 * SEGMENT_PLAINTEXT_SIZE))
    nonces = [cipher._nonce(i) for i in range(3)]
    assert len(set(nonces)) == 3
    assert [nonce[-1] for nonce in nonces] == [0, 0, 1]
    assert nonces[2] == b"prefix7" + (2).to_bytes(4, "big") + b"\x01"
