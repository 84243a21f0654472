"""The TUI's main screens, drawn from fixed API answers and compared with snapshots.

``pytest --snapshot-update`` redraws the checked-in SVGs after a deliberate change.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from unit.tui.fake_api import FakeApi
from veil.tui.app import ApiClient, VeilApp

SIZE = (110, 32)
SnapCompare = Callable[..., bool]


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    """Message times drawn in UTC, so the snapshots do not depend on the machine."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def _app(api: FakeApi | None = None) -> VeilApp:
    fake = api or FakeApi()

    async def connect(_: str | None) -> ApiClient:
        return fake

    return VeilApp(connect)


async def _open_bob(pilot: Any) -> None:
    await pilot.pause()
    await pilot.app.open_chat("Bob")
    await pilot.pause()


def test_conversation(snap_compare: SnapCompare) -> None:
    assert snap_compare(_app(), run_before=_open_bob, terminal_size=SIZE)


def test_help_lists_every_binding(snap_compare: SnapCompare) -> None:
    assert snap_compare(_app(), press=["f1"], terminal_size=SIZE)


def test_invitation_with_qr_code(snap_compare: SnapCompare) -> None:
    assert snap_compare(_app(), press=["ctrl+n"], terminal_size=(110, 50))


def test_security_code(snap_compare: SnapCompare) -> None:
    async def verify(pilot: Any) -> None:
        await _open_bob(pilot)
        await pilot.press("ctrl+k")
        await pilot.pause()

    assert snap_compare(_app(), run_before=verify, terminal_size=SIZE)


async def test_reply_react_and_edit_become_api_calls() -> None:
    api = FakeApi()
    app = _app(api)
    async with app.run_test(size=SIZE) as pilot:
        await _open_bob(pilot)
        app.query_one("#messages").focus()
        await pilot.press("up", "r")  # reply to message 3
        await pilot.press(*"ok", "enter")
        await pilot.press("up")  # the composer is empty again: Up edits the last sent (4)
        app.query_one("#messages").focus()
        await pilot.press("plus")  # react to the highlighted message
        await pilot.pause()
    sent = [params for method, params in api.calls if method == "send"]
    reacted = [params for method, params in api.calls if method == "react"]
    assert sent == [{"contact": "Bob", "texts": ["ok"], "reply_to": 3}]
    assert reacted and reacted[0]["emoji"] == "👍"
    assert app.editing == 4
