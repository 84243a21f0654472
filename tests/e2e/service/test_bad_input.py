"""Bad input to a running service: each gets a JSON-RPC error, and another client is
served all the while. Also: the socket and token are private, and a second service
for the same profile is refused."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from helpers.relay_process import free_port
from helpers.veil_cli import VeilUser
from helpers.veil_service import ServiceProcess
from veil.service.client import ServiceClient
from veil.service.errors import RemoteError
from veil.service.profile_files import SOCKET_FILE, TOKEN_FILE
from veil.service.rpc import MAX_FRAME

pytestmark = pytest.mark.slow
ANSWER_WAIT = 30.0


class RawConnection:
    """A client that writes whatever bytes it is given to the service's socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, home: Path) -> RawConnection:
        reader, writer = await asyncio.open_unix_connection(str(home / SOCKET_FILE), limit=1 << 22)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def answer(self) -> dict[str, Any]:
        line = await asyncio.wait_for(self.reader.readline(), ANSWER_WAIT)
        assert line, "the service closed the connection without answering"
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def hello(self, token: str) -> dict[str, Any]:
        params = {"token": token, "min_version": 1, "max_version": 1}
        await self.send(_request(0, "hello", params))
        return await self.answer()

    async def closed(self) -> bool:
        return await asyncio.wait_for(self.reader.read(), ANSWER_WAIT) == b""

    async def close(self) -> None:
        self.writer.close()


def _request(request_id: int, method: str, params: Any) -> bytes:
    message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
    return json.dumps(message).encode() + b"\n"


def _error_kind(answer: dict[str, Any]) -> tuple[int, str]:
    return answer["error"]["code"], answer["error"]["data"]["kind"]


@pytest.fixture
async def alice_service(pair: tuple[VeilUser, VeilUser]) -> Any:
    service = ServiceProcess(pair[0])
    await service.start()
    yield service
    await service.kill()


async def test_each_bad_input_gets_an_error_while_another_client_is_served(
    alice_service: ServiceProcess,
) -> None:
    home = alice_service.home
    token = (home / TOKEN_FILE).read_text().strip()
    good = await ServiceClient.connect(home)

    async def served() -> None:
        assert len((await good.call("contacts"))["contacts"]) == 1

    raw = await RawConnection.open(home)
    await raw.send(_request(1, "contacts", {}))
    assert _error_kind(await raw.answer()) == (956, "NotAuthenticated")
    assert (await raw.hello(token))["result"]["version"] == 1
    cases = [
        (b"{this is not json\n", (-32700, "MalformedFrame")),
        (b'{"jsonrpc":"2.0","id":2,"method":"x","method":"y"}\n', (-32700, "MalformedFrame")),
        (b'[{"jsonrpc":"2.0","id":3,"method":"contacts"}]\n', (-32600, "InvalidRequest")),
        (_request(4, "format_disk", {}), (-32601, "UnknownMethod")),
        (_request(5, "send", {"contact": 7, "texts": "hi"}), (-32602, "InvalidParams")),
        (_request(6, "history", {"contact": "Bob", "limit": "ten"}), (-32602, "InvalidParams")),
        (_request(7, "send", {"contact": "Nobody", "texts": ["x"]}), (626, "RecordNotFound")),
    ]
    for frame, expected in cases:
        await raw.send(frame)
        assert _error_kind(await raw.answer()) == expected, frame
        await served()

    # A flood: far more requests than may wait; the excess is refused, the rest answered.
    flood = b"".join(_request(100 + i, "address.show", {}) for i in range(2000))
    await raw.send(flood)
    answers = [await raw.answer() for _ in range(2000)]
    refused = [a for a in answers if "error" in a]
    assert refused and all(_error_kind(a) == (958, "TooManyRequests") for a in refused)
    assert any("result" in a for a in answers)
    await served()

    # An oversized frame: an error, then the connection closes (the stream is lost).
    await raw.send(b'{"jsonrpc":"2.0","id":9,"method":"' + b"x" * (MAX_FRAME + 10))
    assert _error_kind(await raw.answer()) == (-32600, "FrameTooLarge")
    assert await raw.closed()
    await served()

    wrong = await RawConnection.open(home)
    assert _error_kind(await wrong.hello("not-the-token")) == (956, "NotAuthenticated")
    assert await wrong.closed()
    with pytest.raises(RemoteError) as refusal:
        await ServiceClient.connect(home, token="also-wrong")
    assert refusal.value.kind == "NotAuthenticated"
    await served()
    await good.close()


async def test_the_socket_and_token_are_private_and_a_second_service_is_refused(
    alice_service: ServiceProcess,
) -> None:
    home = alice_service.home
    for name in (SOCKET_FILE, TOKEN_FILE):
        assert stat.S_IMODE((home / name).stat().st_mode) == 0o600, name
    second = ServiceProcess(alice_service.user)
    await second.start_expecting_failure("ServiceAlreadyRunning")
    assert await alice_service.stop() == 0
    assert not (home / SOCKET_FILE).exists()


async def test_the_websocket_listens_on_loopback_and_refuses_others_without_the_flag(
    pair: tuple[VeilUser, VeilUser],
) -> None:
    alice = pair[0]
    refused = ServiceProcess(alice, "--listen", "0.0.0.0:7")
    await refused.start_expecting_failure("UnsafeListenAddress")
    port = free_port()
    service = ServiceProcess(alice, "--listen", f"127.0.0.1:{port}")
    ready = await service.start()
    try:
        assert ready["websocket"] == f"ws://127.0.0.1:{port}"
        token = (alice.home / TOKEN_FILE).read_text().strip()
        async with await ServiceClient.connect(url=ready["websocket"], token=token) as client:
            assert (await client.call("contacts"))["contacts"][0]["alias"] == "Bob"
            with pytest.raises(RemoteError) as failure:
                await client.call("send", {"contact": ["Bob"], "texts": []})
            assert failure.value.kind == "InvalidParams"
    finally:
        await service.kill()
