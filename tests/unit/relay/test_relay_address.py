"""Relay addresses: parsing, canonical printing and clear rejections."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.errors import LocalError, ProtocolError
from veil.relay.client.relay_client import RelayClient
from veil.relay.protocol.address import (
    DEFAULT_PORT,
    RelayAddress,
    decode_fingerprint,
    encode_fingerprint,
)
from veil.relay.protocol.errors import ConnectionLost, InvalidAddress

FINGERPRINT = encode_fingerprint(bytes(range(32)))


@pytest.mark.parametrize(
    ("text", "hosts", "port"),
    [
        (f"veil://{FINGERPRINT}@relay.example.com", ("relay.example.com",), DEFAULT_PORT),
        (f"veil://{FINGERPRINT}@Relay.Example.COM:443", ("relay.example.com",), 443),
        (f"veil://{FINGERPRINT}@127.0.0.1:7000", ("127.0.0.1",), 7000),
        (f"veil://{FINGERPRINT}@[::1]", ("::1",), DEFAULT_PORT),
        (f"veil://{FINGERPRINT}@[2001:db8:0::1]:5", ("2001:db8::1",), 5),
        (
            f"veil://{FINGERPRINT}@a.example,{'b' * 56}.onion,[::1]:9",
            ("a.example", f"{'b' * 56}.onion", "::1"),
            9,
        ),
    ],
)
def test_parses_valid_addresses(text: str, hosts: tuple[str, ...], port: int) -> None:
    address = RelayAddress.parse(text)
    assert address.fingerprint == FINGERPRINT
    assert address.hosts == hosts
    assert address.port == port
    assert RelayAddress.parse(str(address)) == address


def test_default_port_is_not_printed() -> None:
    address = RelayAddress(FINGERPRINT, ("relay.example",))
    assert str(address) == f"veil://{FINGERPRINT}@relay.example"
    assert str(RelayAddress(FINGERPRINT, ("::1",), 80)) == f"veil://{FINGERPRINT}@[::1]:80"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        (f"http://{FINGERPRINT}@relay.example", "must start with"),
        ("veil://relay.example", "fingerprint"),
        ("veil://short@relay.example", "43 base64url"),
        (f"veil://{FINGERPRINT[:-1]}+@relay.example", "43 base64url"),
        (f"veil://{FINGERPRINT}@", "empty host"),
        (f"veil://{FINGERPRINT}@a.example,,b.example", "empty host"),
        (f"veil://{FINGERPRINT}@a.example,a.example", "each host once"),
        (f"veil://{FINGERPRINT}@relay.example:0", "bad port"),
        (f"veil://{FINGERPRINT}@relay.example:065", "bad port"),
        (f"veil://{FINGERPRINT}@relay.example:70000", "port must be"),
        (f"veil://{FINGERPRINT}@relay.example:", "bad port"),
        (f"veil://{FINGERPRINT}@relay.example/path", "bad host name"),
        (f"veil://{FINGERPRINT}@relay.example?q=1", "bad host name"),
        (f"veil://{FINGERPRINT}@user@relay.example", "bad host name"),
        (f"veil://{FINGERPRINT}@::1", "IPv6 literals go in brackets"),
        (f"veil://{FINGERPRINT}@[relay.example]", "only IPv6"),
        (f"veil://{FINGERPRINT}@[::g]", "bad IPv6"),
        (f"veil://{FINGERPRINT}@-bad.example", "bad host name"),
        (f"veil://{FINGERPRINT}@999.1.1.1", "numeric top-level"),
        (f"veil://{FINGERPRINT}@{'a' * 64}.example", "bad host name"),
        (f"veil://{FINGERPRINT}@" + ",".join(f"h{i}.example" for i in range(9)), "1 to 8"),
        ("veil://" + "x" * 3000, "too long"),
    ],
)
def test_rejects_malformed_addresses(text: str, complaint: str) -> None:
    with pytest.raises(InvalidAddress, match=complaint):
        RelayAddress.parse(text)


async def test_a_mistyped_address_is_a_local_error_not_a_protocol_error() -> None:
    typo = f"veil:/{FINGERPRINT}@relay.example"
    with pytest.raises(InvalidAddress) as raised:
        await RelayClient.connect(typo)
    assert isinstance(raised.value, LocalError)
    assert not isinstance(raised.value, ProtocolError)


def test_fingerprint_must_be_canonical() -> None:
    # The last base64 character carries 4 unused bits; setting one is a second spelling.
    last = FINGERPRINT[-1]
    other = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    variant = other[other.index(last) + 1]
    with pytest.raises(InvalidAddress, match="canonical"):
        decode_fingerprint(FINGERPRINT[:-1] + variant)


def test_constructor_rejects_unnormalised_hosts() -> None:
    with pytest.raises(InvalidAddress, match="normalised"):
        RelayAddress(FINGERPRINT, ("Relay.Example",))


@given(st.binary(min_size=32, max_size=32))
def test_fingerprint_round_trips(digest: bytes) -> None:
    assert decode_fingerprint(encode_fingerprint(digest)) == digest


def _parse_or_reject(text: str) -> None:
    """Any input either fails with InvalidAddress or parses to a canonical address."""
    try:
        address = RelayAddress.parse(text)
    except InvalidAddress:
        return
    assert RelayAddress.parse(str(address)) == address
    assert str(RelayAddress.parse(str(address))) == str(address)


@given(st.text(max_size=200))
def test_parser_fuzz_any_text(text: str) -> None:
    _parse_or_reject(text)


@given(st.text(alphabet="[],.:0123456789abcdef-AZ_", max_size=80))
def test_parser_fuzz_near_valid_locations(location: str) -> None:
    _parse_or_reject(f"veil://{FINGERPRINT}@{location}")


ONION_HOST = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.onion"


def test_onion_hosts_first_through_socks_and_never_without() -> None:
    address = RelayAddress.parse(f"veil://{FINGERPRINT}@relay.example,{ONION_HOST}")
    assert address.hosts_in_order(through_socks=True) == (ONION_HOST, "relay.example")
    assert address.hosts_in_order(through_socks=False) == ("relay.example",)


async def test_client_without_socks_never_resolves_an_onion_host() -> None:
    address = RelayAddress.parse(f"veil://{FINGERPRINT}@{ONION_HOST}")
    with pytest.raises(ConnectionLost, match="configure SOCKS5"):
        await RelayClient.connect(address, reconnect=None, connect_timeout=1.0)
