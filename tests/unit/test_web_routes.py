"""The web gateway's doors, without a network: tickets, cookies, hosts, origins."""

from __future__ import annotations

from veil.crypto import DeterministicRandom
from veil.web.routes import API_PATH, WebRoutes
from veil.web.sessions import TICKET_LIFETIME, WebSessions

PORT = 7788
HOST = {"host": f"127.0.0.1:{PORT}"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _routes(clock: Clock | None = None) -> WebRoutes:
    sessions = WebSessions(DeterministicRandom(b"web"), clock or Clock())
    return WebRoutes(sessions, "127.0.0.1", PORT)


def _signed_in(routes: WebRoutes) -> dict[str, str]:
    answer = routes.answer(f"/open?ticket={routes.sessions.issue_ticket()}", HOST)
    assert answer is not None and answer.status == 303
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    return {**HOST, "cookie": cookie.split(";")[0]}


def test_a_ticket_opens_one_session_once() -> None:
    routes = _routes()
    ticket = routes.sessions.issue_ticket()
    first = routes.answer(f"/open?ticket={ticket}", HOST)
    second = routes.answer(f"/open?ticket={ticket}", HOST)
    assert first is not None and first.status == 303 and first.headers["Location"] == "/"
    assert second is not None and second.status == 401


def test_a_ticket_expires() -> None:
    clock = Clock()
    routes = _routes(clock)
    ticket = routes.sessions.issue_ticket()
    clock.now += TICKET_LIFETIME + 1
    answer = routes.answer(f"/open?ticket={ticket}", HOST)
    assert answer is not None and answer.status == 401


def test_pages_need_the_cookie() -> None:
    routes = _routes()
    refused = routes.answer("/", HOST)
    forged = routes.answer("/", {**HOST, "cookie": "veil_session=" + "00" * 32})
    assert refused is not None and refused.status == 401
    assert forged is not None and forged.status == 401
    page = routes.answer("/", _signed_in(routes))
    assert page is not None and page.status == 200 and b"<script" in page.body


def test_the_page_has_no_inline_script_and_a_strict_policy() -> None:
    routes = _routes()
    page = routes.answer("/", _signed_in(routes))
    assert page is not None
    assert b'<script type="module" src="/app.js"></script>' in page.body
    assert page.body.count(b"<script") == 1
    policy = routes.security_headers()["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy


def test_another_host_is_refused_against_dns_rebinding() -> None:
    routes = _routes()
    headers = {**_signed_in(routes), "host": f"attacker.example:{PORT}"}
    answer = routes.answer("/", headers)
    assert answer is not None and answer.status == 421


def test_the_api_socket_needs_this_origin() -> None:
    routes = _routes()
    headers = _signed_in(routes)
    foreign = routes.answer(API_PATH, {**headers, "origin": "http://evil.example"})
    assert foreign is not None and foreign.status == 403
    assert routes.answer(API_PATH, {**headers, "origin": routes.origin}) is None


def test_unknown_pages_are_not_found() -> None:
    routes = _routes()
    answer = routes.answer("/../../etc/passwd", _signed_in(routes))
    assert answer is not None and answer.status == 404
