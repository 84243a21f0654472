"""Short invitation links with real processes: ``veil invite --qr`` draws a QR code
narrow enough for a terminal, the joiner connects through it, and it works once."""

from __future__ import annotations

import pytest

from helpers.relay_process import RelayProcess
from helpers.veil_cli import VeilUser, receive_until

pytestmark = pytest.mark.slow

#: Columns of the QR code `veil invite --qr` draws; the long link's was 153.
TERMINAL_QR_WIDTH = 65


async def test_a_short_link_connects_once_and_its_qr_code_fits_a_terminal(
    relay: RelayProcess, users: dict[str, VeilUser]
) -> None:
    alice, bob, carol = users["Alice"], users["Bob"], users["Carol"]
    for user in (alice, bob, carol):
        await user.init(relay)
    printed = await alice.run_text("invite", "--qr")
    link = printed.splitlines()[0]
    assert link.startswith("veil://s#")
    qr = [line for line in printed.splitlines()[1:] if line.strip() and set(line) <= set("█▀▄ ")]
    assert qr and max(len(line) for line in qr) <= TERMINAL_QR_WIDTH
    await bob.run("connect", link)
    await receive_until(alice, 1)
    await receive_until(bob, 1)
    assert {c["status"] for c in (await alice.run("contacts"))["contacts"]} == {"connected"}
    await bob.run("send", "Alice", "via a short link")
    assert [e["text"] for e in await receive_until(alice, 1)] == ["via a short link"]
    refused = await carol.run("connect", link, ok=False)
    assert (refused["code"], refused["kind"]) == (542, "ShortLinkGone")  # it works once
    long_link = (await alice.run("invite"))["link"]
    assert long_link.startswith("veil://invitation#")  # long links still work
    await carol.run("connect", long_link)
    await receive_until(alice, 1)
