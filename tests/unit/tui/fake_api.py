"""A stand-in for the service API with fixed answers, so screens draw the same every time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

LINK = "veil://invitation#AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
AT = 1_780_000_000.0
CODE = " ".join(f"{n:05d}" for n in range(12345, 12357))

CONTACTS = [
    {
        "alias": "Bob",
        "name": "Bob",
        "full_name": None,
        "bio": None,
        "status": "connected",
        "verified": True,
        "relays": [{"receive": "veil://relay.example:5223", "send": None, "proxied": True}],
    },
    {
        "alias": "Carol",
        "name": "Carol",
        "full_name": None,
        "bio": None,
        "status": "connecting",
        "verified": False,
        "relays": [],
    },
]


def _message(ident: int, direction: str, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": ident,
        "ref": f"{ident:032x}",
        "direction": direction,
        "text": text,
        "sequence": ident,
        "is_reply": False,
        "reply_to": None,
        "edited": False,
        "deleted": "none",
        "receipt": "read" if direction == "sent" else "delivered",
        "integrity": "ok",
        "reactions": [],
        "sent_at": AT + ident * 60,
        **extra,
    }


HISTORY = [
    _message(1, "received", "Are we still on for Saturday?"),
    _message(2, "sent", "Yes! 10:00 at the station.", reactions=[["received", "👍"]]),
    _message(3, "received", "Bring the map", is_reply=True, reply_to=2),
    _message(4, "sent", "Will do", edited=True, receipt="pending"),
]


class FakeApi:
    """Answers the TUI's calls from the tables above and records them."""

    def __init__(self) -> None:
        self.hello = {"version": 1, "min_version": 1, "max_version": 1, "last_event": 0}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._closed = asyncio.Event()

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        self.calls.append((method, params or {}))
        answers: dict[str, Any] = {
            "contacts": {"contacts": CONTACTS},
            "history": {"contact": "Bob", "messages": HISTORY},
            "invite": {"link": LINK},
            "requests": {"requests": [{"id": 7, "name": "Dave"}]},
            "verify": {"contact": "Bob", "code": CODE, "entered": None, "verified": True},
        }
        return answers.get(method, {})

    async def events(self, since: int) -> AsyncIterator[Any]:
        await self._closed.wait()
        for _ in ():
            yield {}

    async def close(self) -> None:
        self._closed.set()
