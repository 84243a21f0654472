"""What a bot does through the API: send, reply, react, send a file, accept, its address,
groups.

:class:`Actions` wraps one API connection (anything shaped like
:class:`~veil.service.client.ServiceClient`, see :class:`ApiClient`) and returns
the API's typed results, so handlers never build JSON-RPC parameters by hand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol, cast

from veil.service import api_file_types as ft
from veil.service import api_group_types as g
from veil.service import api_types as t

__all__ = ["Actions", "ApiClient"]


class ApiClient(Protocol):
    """The part of :class:`~veil.service.client.ServiceClient` a bot uses."""

    hello: t.HelloResult | None

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Call an API method; return its result."""
        ...

    def events(self, since: int) -> AsyncIterator[t.EventShape]:
        """Every event after ``since``, then each new one."""
        ...

    async def close(self) -> None:
        """Close the connection."""
        ...


class Actions:
    """The bot's hands on one API connection."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    async def send(self, contact: str, *texts: str, reply_to: int | None = None) -> t.SentResult:
        """Send ``texts`` to ``contact`` (an alias), each as one message, optionally
        all replying to the message with row id ``reply_to``."""
        params: t.SendParams = {"contact": contact, "texts": list(texts), "reply_to": reply_to}
        return cast(t.SentResult, await self.client.call("send", dict(params)))

    async def react(
        self, contact: str, message_id: int, emoji: str, *, remove: bool = False
    ) -> t.ReactedResult:
        """Add (or ``remove``) the reaction ``emoji`` on a message of ``contact``."""
        params: t.ReactParams = {
            "contact": contact,
            "message_id": message_id,
            "emoji": emoji,
            "remove": remove,
        }
        return cast(t.ReactedResult, await self.client.call("react", dict(params)))

    async def send_file(
        self, contact: str, path: Path | str, *, keep_metadata: bool = False
    ) -> ft.FileShape:
        """Upload the file at ``path`` and offer it to ``contact``; return the transfer.

        The path is read by the service (give one on its machine); it is made
        absolute here. Images lose their metadata unless ``keep_metadata``. The call
        lasts as long as the upload; ``file-progress`` and ``file-done`` events
        follow it, and calling again after a failure resumes it."""
        params: ft.FileSendParams = {
            "contact": contact,
            "path": str(Path(path).resolve()),
            "keep_metadata": keep_metadata,
        }
        return cast(ft.FileShape, await self.client.call("file.send", dict(params)))

    async def accept(self, request_id: int) -> t.ContactShape:
        """Accept the contact request ``request_id``; return the new contact."""
        params: t.AcceptParams = {"request_id": request_id}
        result = cast(t.ContactResult, await self.client.call("accept", dict(params)))
        return result["contact"]

    async def pending_requests(self) -> list[t.RequestRow]:
        """The contact requests waiting for an answer."""
        result = cast(t.RequestsResult, await self.client.call("requests"))
        return result["requests"]

    async def address(self) -> str:
        """The profile's contact address link, created if it has none."""
        shown = cast(t.AddressResult, await self.client.call("address.show"))
        if shown["link"] is not None:
            return shown["link"]
        created = cast(t.LinkResult, await self.client.call("address.create"))
        return created["link"]

    async def history(self, contact: str, limit: int | None = None) -> list[t.MessageShape]:
        """The newest ``limit`` messages with ``contact`` (all if ``None``), oldest first."""
        params: t.HistoryParams = {"contact": contact, "limit": limit}
        result = cast(t.HistoryResult, await self.client.call("history", dict(params)))
        return result["messages"]

    async def group_send(
        self, group: str, *texts: str, reply_to: int | None = None
    ) -> g.GroupSentResult:
        """Post ``texts`` in ``group`` (an alias), each as one message, optionally all
        replying to the message at seq ``reply_to``."""
        params: g.GroupSendParams = {"group": group, "texts": list(texts), "reply_to": reply_to}
        return cast(g.GroupSentResult, await self.client.call("group.send", dict(params)))

    async def group_react(
        self, group: str, seq: int, emoji: str, *, remove: bool = False
    ) -> g.GroupReactedResult:
        """Add (or ``remove``) the reaction ``emoji`` on the message at ``seq`` in ``group``."""
        params: g.GroupReactParams = {"group": group, "seq": seq, "emoji": emoji, "remove": remove}
        return cast(g.GroupReactedResult, await self.client.call("group.react", dict(params)))

    async def group_join(self, link: str, alias: str) -> g.GroupJoinResult:
        """Ask to join a group by its link; the service finishes once the admin accepts
        (a ``group-joined`` event follows)."""
        params: g.GroupJoinParams = {"link": link, "alias": alias}
        return cast(g.GroupJoinResult, await self.client.call("group.join", dict(params)))

    async def group_history(
        self, group: str, limit: int | None = None
    ) -> list[g.GroupMessageShape]:
        """The newest ``limit`` messages of ``group`` (all if ``None``), in log order."""
        params: g.GroupHistoryParams = {"group": group, "limit": limit}
        result = cast(g.GroupHistoryResult, await self.client.call("group.history", dict(params)))
        return result["messages"]
