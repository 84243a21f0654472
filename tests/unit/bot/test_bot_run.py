"""Running a bot: where the service is, reconnecting and resuming, the command line."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from unit.bot.fake_service import FakeService, event
from unit.bot.test_bot_dispatch import echo_bot
from veil.bot import Cursor, NoServiceGiven, ServiceAddress, main, run_bot
from veil.bot.actions import ApiClient
from veil.service.errors import ServiceClosed, ServiceNotRunning


class FlakyService(ServiceAddress):
    """A service that is down at first, then serves its log, then goes away."""

    def __init__(self, home: Path, log: list[list[dict[str, object]]]) -> None:
        super().__init__(home)
        self.connections = [FakeService(part) for part in log]
        self.attempts = 0
        self.served = asyncio.Event()

    async def connect(self) -> ApiClient:
        self.attempts += 1
        if self.attempts == 1:
            raise ServiceNotRunning("no `veil serve` answers")
        if not self.connections:
            self.served.set()
            raise ServiceNotRunning("gone for good")
        return self.connections.pop(0)


async def test_the_bot_waits_for_its_service_and_resumes_after_each_loss(tmp_path: Path) -> None:
    first = [event(1, text="/echo a"), event(2, text="/echo b")]
    second = [*first, event(3, text="/echo c")]  # the service replays what it still has
    service = FlakyService(tmp_path, [first, second])
    connections = list(service.connections)
    running = asyncio.create_task(run_bot(echo_bot(), service))
    await asyncio.wait_for(service.served.wait(), 30)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    answered = [[s["texts"] for s in fake.sent()] for fake in connections]
    assert answered == [[["a"], ["b"]], [["c"]]]
    assert connections[1].subscribed_since == 2
    assert (tmp_path / "bot-echo.cursor").read_bytes() == b'{"version": 1, "last_seq": 3}\n'


async def test_without_reconnect_a_missing_service_is_raised(tmp_path: Path) -> None:
    with pytest.raises(ServiceNotRunning, match="start `veil serve`"):
        await run_bot(echo_bot(), ServiceAddress(tmp_path), reconnect=False)
    service = FlakyService(tmp_path, [[]])
    service.attempts = 1
    with pytest.raises(ServiceClosed):
        await run_bot(echo_bot(), service, reconnect=False)


def test_a_bot_needs_a_service_and_a_websocket_bot_its_own_cursor(tmp_path: Path) -> None:
    with pytest.raises(NoServiceGiven, match="a profile folder, or a WebSocket URL and a token"):
        ServiceAddress(url="ws://127.0.0.1:7700")
    remote = ServiceAddress(url="ws://127.0.0.1:7700", token="secret")
    with pytest.raises(NoServiceGiven, match="give --cursor"):
        remote.default_cursor("echo")
    assert ServiceAddress(tmp_path).default_cursor("echo") == tmp_path / "bot-echo.cursor"


def test_the_command_line_says_what_to_fix_when_the_cursor_is_taken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = Cursor(tmp_path / "bot-echo.cursor")
    taken.open()
    with pytest.raises(SystemExit) as exit_:
        main(echo_bot(), ["--home", str(tmp_path), "--quiet"])
    assert exit_.value.code == 1
    assert "echo: another bot uses" in capsys.readouterr().err
    taken.close()


def test_the_command_line_refuses_a_bot_without_a_service(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(echo_bot(), ["--url", "ws://127.0.0.1:7700"])
    assert exit_.value.code == 2
    assert "a profile folder, or a WebSocket URL and a token" in capsys.readouterr().err
