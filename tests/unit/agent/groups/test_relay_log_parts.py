"""The relay adapter's parts: an entry counts at its last part, interleaved entries
come out in completion order, and acks never pass an incomplete entry's first part."""

from __future__ import annotations

from veil.agent.groups.relay_log import PART_VERSION, _Reader
from veil.crypto import SystemRandom, X25519KeyPair
from veil.mls.codec import TlsWriter
from veil.relay.client.log_events import LogReader


def _part(entry_id: bytes, index: int, count: int, data: bytes) -> bytes:
    header = TlsWriter().u8(PART_VERSION).raw(entry_id).u16(index).u16(count).build()
    return header + data


def _reader() -> _Reader:
    return _Reader(LogReader(bytes(24), X25519KeyPair.generate(SystemRandom()), bytes(32)))


def test_interleaved_entries_complete_at_their_last_part_and_acks_stay_safe() -> None:
    reader = _reader()
    reader.take(0, _part(b"A" * 8, 0, 2, b"a0"))
    reader.take(1, _part(b"B" * 8, 0, 1, b"b"))
    assert [(e.seq, e.data) for e in reader.ready] == [(2, b"b")]
    assert reader.safe_ack(2) == -1  # part 0 of A is still open
    reader.take(2, _part(b"A" * 8, 1, 2, b"a1"))
    assert [(e.seq, e.data) for e in reader.ready] == [(2, b"b"), (3, b"a0a1")]
    assert reader.safe_ack(3) == 2


def test_a_part_that_does_not_parse_is_handed_on_for_the_engine_to_reject() -> None:
    reader = _reader()
    reader.take(0, b"\x09garbage")
    reader.take(1, _part(b"C" * 8, 3, 2, b"bad index"))
    assert [e.seq for e in reader.ready] == [1, 2]
