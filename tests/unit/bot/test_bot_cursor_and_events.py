"""The cursor file (strict, atomic, locked) and the parsing of events and commands."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unit.bot.fake_service import event
from veil.bot.cursor import Cursor, decode_cursor, encode_cursor
from veil.bot.errors import BotAlreadyRunning, CursorUnreadable, MalformedEvent
from veil.bot.events import parse_event, split_command


@given(st.integers(min_value=0, max_value=2**63))
def test_a_cursor_reads_back_what_was_written(last_seq: int) -> None:
    assert decode_cursor(encode_cursor(last_seq)) == last_seq


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xfe",
        b"[1]",
        b'{"version": 1}',
        b'{"version": 2, "last_seq": 3}',
        b'{"version": 1, "last_seq": -1}',
        b'{"version": 1, "last_seq": true}',
        b'{"version": 1, "last_seq": 3, "more": 0}',
        b'{"version": 1, "last_seq": 3} 4',
        b" " * 300,
    ],
)
def test_anything_but_one_cursor_is_unreadable(data: bytes) -> None:
    with pytest.raises(CursorUnreadable):
        decode_cursor(data)


@given(st.binary(max_size=400))
def test_random_bytes_are_a_cursor_or_unreadable(data: bytes) -> None:
    with contextlib.suppress(CursorUnreadable):
        assert decode_cursor(data) >= 0


def test_a_cursor_is_saved_whole_and_held_by_one_bot(tmp_path: Path) -> None:
    path = tmp_path / "bot.cursor"
    first = Cursor(path)
    assert first.open() is None
    first.save(41)
    assert json.loads(path.read_bytes()) == {"version": 1, "last_seq": 41}
    assert not path.with_name("bot.cursor.partial").exists()
    with pytest.raises(BotAlreadyRunning, match="another bot uses"):
        Cursor(path).open()
    first.close()
    second = Cursor(path)
    assert second.open() == 41
    second.close()


def test_parse_event_keeps_every_field() -> None:
    parsed = parse_event(event(9, "reaction", "👍", contact="Bob", id=4))
    assert (parsed.seq, parsed.kind, parsed.contact, parsed.text) == (9, "reaction", "Bob", "👍")
    assert (parsed.message_id, parsed.request_id, parsed.integrity) == (4, None, "ok")
    assert parsed.at == 1_700_000_009.0


@pytest.mark.parametrize(
    "broken",
    [{"seq": 0}, {"seq": "1"}, {"seq": True}, {"text": None}, {"integrity": 1}, {"at": None}],
)
def test_parse_event_refuses_a_broken_event(broken: dict[str, Any]) -> None:
    with pytest.raises(MalformedEvent):
        parse_event({**event(1), **broken})


@given(st.dictionaries(st.sampled_from(list(event(1))), st.none() | st.integers() | st.text()))
def test_parse_event_takes_any_dict_or_refuses_it(shape: dict[str, Any]) -> None:
    try:
        parsed = parse_event(shape)
    except MalformedEvent:
        return
    assert parsed.seq == shape["seq"] >= 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/echo hi  there ", ("echo", "hi  there")),
        ("/Help", ("help", "")),
        ("/x\ty", ("x", "y")),
        ("hello", None),
        ("/", None),
        ("/ echo", None),
        ("/a/b c", None),
        ("/" + "n" * 65, None),
        ("/\x00", None),
    ],
)
def test_split_command(text: str, expected: tuple[str, str] | None) -> None:
    assert split_command(text) == expected
