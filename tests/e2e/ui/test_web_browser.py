"""The web app in a real browser: two tabs, two profiles, one relay.

Headless Chromium (Debian's package) driven by Playwright. Everything goes through
the pages as a person would use them: invite, connect, chat, a live update without
a reload, a reaction. Then the doors that must stay shut: no page without the
session, no API socket for a foreign origin, no cross-origin POST.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright
from websockets.asyncio.client import connect as websocket_connect
from websockets.exceptions import InvalidStatus

from helpers.browser import CHROMIUM_FLAGS, chromium_path
from helpers.veil_service import ServiceProcess
from helpers.veil_web import WebProcess

SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
LIVE = 60_000  # ms: a message crosses a real relay; a busy machine may take a while


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as driver:
        launched = await driver.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True
        )
        yield launched
        await launched.close()


@pytest.fixture
async def webs(
    services: tuple[ServiceProcess, ServiceProcess],
) -> AsyncIterator[tuple[WebProcess, WebProcess]]:
    started = [WebProcess(service.user) for service in services]
    for web in started:
        await web.start()
    yield started[0], started[1]
    for web in started:
        await web.stop()


async def _signed_in(browser: Browser, web: WebProcess) -> Page:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(web.ready["url"])
    await page.wait_for_selector("#status:has-text('Connected')", timeout=LIVE)
    return page


async def test_two_people_connect_chat_and_react_in_browsers(
    browser: Browser, webs: tuple[WebProcess, WebProcess]
) -> None:
    alice_web, bob_web = webs
    alice = await _signed_in(browser, alice_web)
    bob = await _signed_in(browser, bob_web)

    await alice.click("#invite")
    link = await alice.text_content("#invite-link", timeout=LIVE)
    assert link is not None and link.startswith("veil://")
    await alice.click("#dialog button[value=cancel]")
    await bob.click("#join")
    await bob.fill("#join-link", link)
    await bob.click("#dialog-ok")

    await alice.click("#chats li[data-alias=Bob]", timeout=LIVE)
    await bob.click("#chats li[data-alias=Alice]", timeout=LIVE)
    await alice.evaluate("window.notReloaded = true")

    await bob.fill("#text", "hello from Bob's browser")
    await bob.press("#text", "Enter")
    arrived = alice.locator(".message.received", has_text="hello from Bob's browser")
    await arrived.wait_for(timeout=LIVE)
    assert await alice.evaluate("window.notReloaded") is True

    await arrived.locator("button[data-action=react]").click()
    reacted = bob.locator(".message.sent .reactions", has_text="👍")
    await reacted.wait_for(timeout=LIVE)

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await bob.screenshot(path=str(SCREENSHOTS / "web.png"))


async def test_pages_need_the_session_and_the_api_needs_this_origin(
    browser: Browser, webs: tuple[WebProcess, WebProcess]
) -> None:
    web = webs[0]
    origin = web.ready["origin"]
    context = await browser.new_context()
    page = await context.new_page()
    response = await page.goto(f"{origin}/")
    assert response is not None and response.status == 401

    signed_in = await _signed_in(browser, web)
    cookies = await signed_in.context.cookies()
    session = next(cookie for cookie in cookies if cookie["name"] == "veil_session")
    assert session["httpOnly"] is True and session["sameSite"] == "Strict"

    again = await context.new_page()
    spent = await again.goto(web.ready["url"])  # the one-time link is spent
    assert spent is not None and spent.status == 401

    cookie = f"veil_session={session['value']}"
    host = origin.removeprefix("http://")
    with pytest.raises(InvalidStatus) as refused:
        await websocket_connect(
            f"ws://{host}/api",
            additional_headers={"Cookie": cookie, "Origin": "http://evil.example"},
        )
    assert refused.value.response.status_code == 403

    # A page of another origin posts to the app, as a cross-site forgery would: the
    # gateway answers only GET, so the browser gets no answer it could act on.
    foreign = await context.new_page()
    outcome = await foreign.evaluate(
        """async (url) => {
            try {
                const options = {method: "POST", body: "x", credentials: "include"};
                const answer = await fetch(url, options);
                return answer.status;
            } catch (error) {
                return "refused";
            }
        }""",
        f"{origin}/",
    )
    assert outcome == "refused" or (isinstance(outcome, int) and outcome >= 400)
