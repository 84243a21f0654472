"""Two TUIs, each on its own ``veil serve``, one relay: the whole chat, driven by keys.

Alice invites with Ctrl+N, Bob connects with Ctrl+O; they chat, Alice replies and
reacts, Bob edits his last message, and both compare security codes; every change
arrives live in the other TUI through its service's event stream.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from helpers.veil_service import ServiceProcess
from veil.service.client import ServiceClient
from veil.tui.app import ApiClient, VeilApp
from veil.tui.screens import InviteScreen

SIZE = (110, 34)
LIVE = 90.0  # seconds: real relays on a busy machine
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"


def _app(service: ServiceProcess) -> VeilApp:
    async def connect(_: str | None) -> ApiClient:
        return await ServiceClient.connect(service.home)

    return VeilApp(connect)


async def _until(pilot: Pilot[None], check: Callable[[], Any], what: str) -> None:
    for _ in range(int(LIVE / 0.2)):
        if check():
            return
        await pilot.pause(0.2)
    raise AssertionError(f"timed out waiting until {what}")


def _connected(app: VeilApp) -> list[str]:
    return [contact["alias"] for contact in app.contacts if contact["status"] == "connected"]


def _texts(app: VeilApp) -> list[str | None]:
    return [message["text"] for message in app.history]


async def _type(pilot: Pilot[None], text: str) -> None:
    await pilot.press(*("space" if char == " " else char for char in text))


async def test_two_tuis_connect_chat_reply_react_edit_and_verify(
    services: tuple[ServiceProcess, ServiceProcess],
) -> None:
    alice_app, bob_app = _app(services[0]), _app(services[1])
    async with alice_app.run_test(size=SIZE) as alice, bob_app.run_test(size=SIZE) as bob:
        await _until(alice, lambda: alice_app.client is not None, "Alice's TUI connects")
        await _until(bob, lambda: bob_app.client is not None, "Bob's TUI connects")

        await alice.press("ctrl+n")
        await _until(alice, lambda: isinstance(alice_app.screen, InviteScreen), "an invitation")
        link = alice_app.screen.link  # type: ignore[attr-defined]
        await alice.press("escape")
        await bob.press("ctrl+o")
        await bob.pause()
        bob_app.screen.query_one("#link").value = link  # type: ignore[attr-defined]
        await bob.press("enter")

        await _until(alice, lambda: _connected(alice_app) == ["Bob"], "Alice sees Bob connected")
        await _until(bob, lambda: _connected(bob_app) == ["Alice"], "Bob sees Alice connected")
        await alice_app.open_chat("Bob")
        await bob_app.open_chat("Alice")

        await _type(bob, "hello from Bob")
        await bob.press("enter")
        await _until(alice, lambda: "hello from Bob" in _texts(alice_app), "it arrives live")

        alice_app.query_one("#messages").focus()
        await alice.press("r")
        await _type(alice, "hi Bob")
        await alice.press("enter")
        await _until(alice, lambda: _texts(alice_app)[-1:] == ["hi Bob"], "Alice's reply shows")
        alice_app.query_one("#messages").focus()
        await alice.press("up", "plus")  # the highlighted message is Bob's
        await _until(bob, lambda: _reply_and_reaction(bob_app), "Bob sees the reply and 👍")

        bob_app.query_one("#composer").focus()
        await bob.press("up")  # edit the last message Bob sent
        await _type(bob, ", edited")
        await bob.press("enter")
        await _until(alice, lambda: _edited(alice_app), "Alice sees the edit")

        await _compare_codes(alice, alice_app, bob, bob_app)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        alice_app.save_screenshot("tui.svg", str(SCREENSHOTS))


def _reply_and_reaction(app: VeilApp) -> bool:
    received = [m for m in app.history if m["direction"] == "received"]
    sent = [m for m in app.history if m["direction"] == "sent"]
    quoted = [m["id"] for m in sent if m["text"] == "hello from Bob"]
    replied = any(m["text"] == "hi Bob" and [m["reply_to"]] == quoted for m in received)
    reacted = any(["received", "👍"] in m["reactions"] for m in sent)
    return replied and reacted


def _edited(app: VeilApp) -> bool:
    return any(m["text"] == "hello from Bob, edited" and m["edited"] for m in app.history)


async def _compare_codes(
    alice: Pilot[None], alice_app: VeilApp, bob: Pilot[None], bob_app: VeilApp
) -> None:
    await bob.press("ctrl+k")
    await _until(bob, lambda: bob_app.screen.query("#our-code"), "Bob's code")
    bobs_code = str(bob_app.screen.query_one("#our-code").render())
    await bob.press("escape")
    await alice.press("ctrl+k")
    await _until(alice, lambda: alice_app.screen.query("#their-code"), "Alice's code screen")
    alice_app.screen.query_one("#their-code").value = bobs_code  # type: ignore[attr-defined]
    await alice.press("enter")
    await _until(
        alice, lambda: alice_app.contacts and alice_app.contacts[0]["verified"], "verified"
    )
