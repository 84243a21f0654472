"""F7: a proxy relay connects only to public addresses unless the operator allows more."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from veil.routing.destination_guard import DestinationDenied, DestinationGuard, GuardedDialer


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "fe80::1",
        "fc00::1",
        "0.0.0.0",
        "224.0.0.1",
        "::ffff:127.0.0.1",
        "100.64.0.1",
    ],
)
def test_private_loopback_and_reserved_destinations_are_denied(address: str) -> None:
    assert not DestinationGuard().permits(ipaddress.ip_address(address))


def test_public_destinations_and_the_operator_allow_list_are_permitted() -> None:
    guard = DestinationGuard.parse(["10.0.0.0/8", "::1"])
    assert DestinationGuard().permits(ipaddress.ip_address("93.184.216.34"))
    assert DestinationGuard().permits(ipaddress.ip_address("2606:4700::1111"))
    assert guard.permits(ipaddress.ip_address("10.9.9.9"))
    assert guard.permits(ipaddress.ip_address("::1"))
    assert not guard.permits(ipaddress.ip_address("192.168.0.1"))
    with pytest.raises(ValueError, match="does not appear to be"):
        DestinationGuard.parse(["not a network"])


async def test_the_dialer_refuses_a_name_that_resolves_to_loopback() -> None:
    dialer = GuardedDialer(DestinationGuard(), timeout=5.0)
    with pytest.raises(DestinationDenied, match="proxy_allow"):
        await dialer.connect("localhost", 443)


async def test_the_dialer_connects_where_the_operator_allows() -> None:
    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        dialer = GuardedDialer(DestinationGuard.parse(["127.0.0.0/8"]), timeout=5.0)
        sock = await dialer.connect("127.0.0.1", port)
        assert sock.getpeername() == ("127.0.0.1", port)
        sock.close()
    finally:
        server.close()
        await server.wait_closed()
