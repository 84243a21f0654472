"""Size classes (Padmé), chunk sizes and placement over file relays."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.files.errors import FileTooLarge, NoRelayAvailable
from veil.files.layout import (
    CHUNK_SIZES,
    MAX_CHUNKS,
    MAX_FILE_SIZE,
    SEGMENT_PLAINTEXT_SIZE,
    padded_segment_count,
    place_chunks,
    plan_layout,
    replace_failed,
)


@pytest.mark.parametrize(
    ("segments", "padded"),
    [(1, 1), (7, 7), (8, 8), (9, 10), (17, 18), (33, 36), (100, 104), (16389, 17408)],
)
def test_padme_classes(segments: int, padded: int) -> None:
    assert padded_segment_count(segments) == padded


@given(st.integers(min_value=1, max_value=1 << 22))
def test_padme_overhead_is_at_most_an_eighth_and_idempotent(segments: int) -> None:
    padded = padded_segment_count(segments)
    assert segments <= padded <= segments * 1.125 + 1
    assert padded_segment_count(padded) == padded


@given(st.integers(min_value=0, max_value=MAX_FILE_SIZE))
def test_layout_holds_the_file_in_whole_chunks(size: int) -> None:
    layout = plan_layout(size)
    assert layout.segment_count * SEGMENT_PLAINTEXT_SIZE >= size
    assert layout.chunk_size in CHUNK_SIZES
    assert layout.chunk_count * layout.chunk_size == layout.encrypted_size
    assert 1 <= layout.chunk_count <= MAX_CHUNKS


def test_a_gibibyte_goes_in_4_mib_chunks() -> None:
    layout = plan_layout(1 << 30)
    assert (layout.chunk_size, layout.chunk_count) == (4 << 20, 272)


def test_too_large_file_is_refused() -> None:
    with pytest.raises(FileTooLarge):
        plan_layout(MAX_FILE_SIZE + 1)


def test_placement_round_robin_skips_relays_that_are_down() -> None:
    relays = ["a", "b", "c"]
    assert place_chunks(4, relays, (), start=1) == ("b", "c", "a", "b")
    assert place_chunks(4, relays, {"b"}, start=0) == ("a", "c", "a", "c")
    with pytest.raises(NoRelayAvailable):
        place_chunks(1, relays, set(relays), start=0)


def test_failover_moves_only_movable_chunks_off_relays_that_are_down() -> None:
    placement = ("a", "b", "a", "b")
    moved = replace_failed(placement, movable=[1, 2, 3], relays=["a", "b", "c"], down={"b"})
    assert moved[0] == "a" and moved[2] == "a"
    assert moved[1] != "b" and moved[3] != "b"
    kept = replace_failed(placement, movable=[0], relays=["a", "b"], down={"b"})
    assert kept == placement
    with pytest.raises(NoRelayAvailable):
        replace_failed(placement, movable=[1], relays=["a", "b"], down={"a", "b"})
