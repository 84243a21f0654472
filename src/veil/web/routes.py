"""What the gateway answers to each plain HTTP request (sans I/O).

Every answer carries the same hardening headers: a strict Content-Security-Policy
(scripts, styles and connections from this origin only, no inline script, no
framing), ``nosniff``, no referrer and no caching. A request whose ``Host`` is not
this gateway's own loopback address is refused, which stops DNS rebinding; every
page but the one-time link needs the session cookie; the API's WebSocket also
needs this origin, which stops a foreign page from driving it (cross-site
WebSocket hijacking). Nothing here changes state on a plain request but the
one-time link, and the session cookie is SameSite=Strict, so there is nothing for a
cross-site request to forge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from importlib import resources
from urllib.parse import parse_qs, urlsplit

from veil.web.sessions import COOKIE_NAME, WebSessions

__all__ = ["API_PATH", "Answer", "WebRoutes"]

API_PATH = "/api"
_STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/api.js": ("api.js", "text/javascript; charset=utf-8"),
    "/view.js": ("view.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer; ``None`` from :meth:`WebRoutes.answer` lets a WebSocket open."""

    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class WebRoutes:
    """The gateway's pages for the origin ``http://{host}:{port}``."""

    sessions: WebSessions
    host: str
    port: int

    @property
    def origin(self) -> str:
        """The only origin the gateway serves and accepts."""
        return f"http://{self.host}:{self.port}"

    def security_headers(self) -> dict[str, str]:
        """The headers every answer carries."""
        policy = (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src ws://{self.host}:{self.port}; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'"
        )
        return {
            "Content-Security-Policy": policy,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            "Cache-Control": "no-store",
        }

    def answer(self, path: str, headers: dict[str, str]) -> Answer | None:
        """The answer to ``GET path`` with ``headers`` (lower-case names)."""
        if headers.get("host") not in (f"{self.host}:{self.port}", f"localhost:{self.port}"):
            return Answer(421, b"This gateway only answers its own loopback address.\n")
        url = urlsplit(path)
        if url.path == "/open":
            return self._open(parse_qs(url.query).get("ticket", [""])[0])
        if not self.sessions.is_session(_cookie(headers.get("cookie", ""))):
            return Answer(401, b"Open the link `veil web` printed to sign in.\n")
        return self._signed_in(url.path, headers)

    def _signed_in(self, path: str, headers: dict[str, str]) -> Answer | None:
        if path == API_PATH:
            if headers.get("origin") != self.origin:
                return Answer(403, b"The API only answers pages of this origin.\n")
            return None
        if path not in _STATIC:
            return Answer(404, b"No such page.\n")
        name, content_type = _STATIC[path]
        return Answer(200, _asset(name), content_type)

    def _open(self, ticket: str) -> Answer:
        session = self.sessions.redeem(ticket)
        if session is None:
            return Answer(401, b"This link is spent or expired: run `veil web` for a new one.\n")
        cookie = self.sessions.cookie_header(session)
        return Answer(303, b"", headers={"Location": "/", "Set-Cookie": cookie})


def _cookie(header: str) -> str | None:
    try:
        morsel = SimpleCookie(header).get(COOKIE_NAME)
    except CookieError:
        return None
    return None if morsel is None else morsel.value


def _asset(name: str) -> bytes:
    return resources.files("veil.web").joinpath("static", name).read_bytes()
