"""An in-memory stand-in for a ``veil serve`` connection, for the bot's unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

from veil.service import api_types as t
from veil.service.errors import RemoteError, ServiceClosed


def event(seq: int, kind: str = "message", text: str = "", **fields: Any) -> dict[str, Any]:
    """An event as the service sends it; a message from Alice unless told otherwise."""
    shape: dict[str, Any] = {
        "seq": seq,
        "kind": kind,
        "contact": "Alice",
        "text": text,
        "id": 100 + seq,
        "integrity": "ok",
        "request": None,
        "at": 1_700_000_000.0 + seq,
    }
    return {**shape, **fields}


class FakeService:
    """Answers the calls a bot makes and streams ``log`` as its event log.

    ``calls`` records every call; ``refuse`` maps a method to the Veil code it fails
    with; ``closes_on`` makes that method raise :class:`ServiceClosed`;
    ``pruned_before`` is the oldest event the log still keeps."""

    def __init__(self, log: list[dict[str, Any]], *, last_event: int = 0) -> None:
        self.log = log
        self.hello: t.HelloResult | None = {
            "version": 1,
            "min_version": 1,
            "max_version": 1,
            "last_event": last_event,
        }
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.address: str | None = None
        self.pending: list[t.RequestRow] = []
        self.refuse: dict[str, int] = {}
        self.closes_on: str | None = None
        self.subscribed_since: int | None = None
        self.pruned_before: int | None = None

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        params = params or {}
        self.calls.append((method, params))
        if method == self.closes_on:
            raise ServiceClosed("the service closed the connection")
        if method in self.refuse:
            raise RemoteError(f"{method} refused", self.refuse[method], "RecordNotFound")
        return self._answer(method, params)

    def _answer(self, method: str, params: dict[str, Any]) -> Any:
        if method == "address.show":
            return {"link": self.address}
        if method == "address.create":
            self.address = "veil://address#bot"
            return {"link": self.address}
        if method == "requests":
            return {"requests": self.pending}
        if method == "accept":
            self.pending = [r for r in self.pending if r["id"] != params["request_id"]]
            name = f"Guest{params['request_id']}"
            return {"contact": _contact(name)}
        if method == "send":
            return {"sent": [1], "pending": 0}
        if method == "history":
            return {"contact": params["contact"], "messages": []}
        if method == "react":
            return {"reacted": params["message_id"], "emoji": params["emoji"], "added": True}
        if method == "file.send":
            return _file(params["contact"], params["path"])
        if method == "group.send":
            return {"group": params["group"], "sent": ["00" * 16]}
        if method == "group.react":
            return {"group": params["group"], "seq": params["seq"], "emoji": "x", "added": True}
        raise AssertionError(f"the bot called {method}")

    async def events(self, since: int) -> AsyncIterator[t.EventShape]:
        self.subscribed_since = since
        if self.pruned_before is not None and since + 1 < self.pruned_before:
            raise RemoteError("events after #0 are no longer kept", 906, "EventsPruned")
        for shape in self.log:
            if shape.get("seq", 0) > since:
                yield cast(t.EventShape, shape)
        raise ServiceClosed("the service closed the connection")

    async def close(self) -> None:
        pass

    def sent(self) -> list[dict[str, Any]]:
        """The parameters of every ``send`` call, in order."""
        return [params for method, params in self.calls if method == "send"]


def _contact(name: str) -> t.ContactShape:
    return {
        "alias": name,
        "name": name,
        "full_name": None,
        "bio": None,
        "status": "connecting",
        "verified": False,
    }


def _file(contact: str, path: str) -> dict[str, Any]:
    return {
        "id": 1,
        "contact": contact,
        "direction": "sent",
        "name": path.rsplit("/", 1)[-1],
        "mime_type": "application/octet-stream",
        "size": 5,
        "state": "sent",
        "path": path,
        "preview_bytes": 0,
    }
