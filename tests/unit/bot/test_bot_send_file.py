"""The bot's send_file helper against an in-memory service: a handler sends a file
back, and the service is given the path made absolute."""

from __future__ import annotations

from pathlib import Path

import pytest

from unit.bot.fake_service import FakeService, event
from veil.bot import Bot, Command, Cursor
from veil.service.api_file_types import FileShape
from veil.service.errors import ServiceClosed


async def test_a_handler_sends_a_file_back_with_its_path_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cursor = Cursor(tmp_path / "bot.cursor")
    cursor.open()
    bot = Bot("files")
    (tmp_path / "menu.pdf").write_bytes(b"%PDF-")
    monkeypatch.chdir(tmp_path)
    results: list[FileShape] = []

    @bot.command("menu", help="send the menu")
    async def menu(command: Command) -> None:
        results.append(await bot.actions.send_file(command.contact, "menu.pdf"))

    service = FakeService([event(1, text="/menu")])
    with pytest.raises(ServiceClosed):  # the fake log ran out
        await bot.serve(service, cursor)
    assert [(r["state"], r["name"]) for r in results] == [("sent", "menu.pdf")]
    sends = [params for method, params in service.calls if method == "file.send"]
    path = str(tmp_path / "menu.pdf")
    assert sends == [{"contact": "Alice", "path": path, "keep_metadata": False}]
