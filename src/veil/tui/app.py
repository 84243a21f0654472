"""The TUI application: chats, the open conversation, the composer, live events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar, Protocol

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Label, ListItem, ListView, Static

from veil.service.errors import RemoteError, ServiceClosed, ServiceNotRunning
from veil.tui.composer import Composer
from veil.tui.render import chat_label, message_lines, qr_text
from veil.tui.screens import (
    HelpScreen,
    InviteScreen,
    LinkScreen,
    PassphraseScreen,
    RelaysScreen,
    RequestsScreen,
    VerifyScreen,
)

__all__ = ["ApiClient", "Connector", "VeilApp"]


class ApiClient(Protocol):
    """What the TUI needs of :class:`veil.service.client.ServiceClient`."""

    hello: Any

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any: ...

    def events(self, since: int) -> AsyncIterator[Any]: ...

    async def close(self) -> None: ...


#: Connects to the profile's service, starting it with the passphrase if given.
Connector = Callable[[str | None], Awaitable[ApiClient]]

_NOTICES = {
    "desync": "The conversation with {contact} lost step: Ctrl+K, then repair.",
    "repair-request": "{contact} asks to repair the conversation.",
    "repaired": "The conversation with {contact} was repaired: compare security codes again.",
    "error": "Problem with {contact}: {text}",
}


class VeilApp(App[None]):
    """Veil in the terminal, over one connection to ``veil serve``."""

    TITLE = "Veil"
    CSS = """
    #chats { width: 32; border-right: solid $primary; }
    #title { text-style: bold; padding: 0 1; }
    #messages { height: 1fr; }
    #replying { color: $text-muted; padding: 0 1; }
    Composer { height: 5; }
    #status { dock: bottom; height: 1; padding: 0 1; background: $boost; }
    #status.error { color: $error; text-style: bold; }
    """
    # priority: these keys work even while the composer (whose own Ctrl keys edit
    # text) has the focus.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help"),
        Binding("ctrl+n", "invite", "Invite", priority=True),
        Binding("ctrl+o", "join", "Connect", priority=True),
        Binding("ctrl+r", "requests", "Requests", priority=True),
        Binding("ctrl+k", "verify", "Security code", priority=True),
        Binding("ctrl+l", "relays", "Relays", priority=True),
        Binding("ctrl+q", "quit", "Quit"),
    ]
    MESSAGE_KEYS = (
        ("r", "reply to the selected message"),
        ("e", "edit the selected message (yours)"),
        ("+", "react 👍 to the selected message"),
        ("enter", "in the composer: send"),
        ("ctrl+j", "in the composer: new line"),
        ("up", "in an empty composer: edit your last message"),
        ("escape", "in the composer: cancel reply or edit"),
        ("tab", "next pane (chats, messages, composer)"),
    )

    def __init__(self, connect: Connector) -> None:
        super().__init__()
        self._connect = connect
        self.client: ApiClient | None = None
        self.contacts: list[dict[str, Any]] = []
        self.history: list[dict[str, Any]] = []
        self.selected: str | None = None
        self.unread: dict[str, int] = {}
        self.last: dict[str, str] = {}
        self.reply_to: dict[str, Any] | None = None
        self.editing: int | None = None

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield ListView(id="chats")
            with Vertical():
                yield Label("Choose a chat on the left (Tab moves between panes)", id="title")
                yield ListView(id="messages")
                yield Label("", id="replying")
                yield Composer(id="composer")
        yield Static("Connecting to veil serve…", id="status")
        yield Footer()

    async def on_mount(self) -> None:
        self.start()

    @work(exclusive=True, group="start")
    async def start(self) -> None:
        """Connect (asking for the passphrase if no service runs), then follow events."""
        try:
            self.client = await self._connect(None)
        except ServiceNotRunning:
            secret = await self.push_screen_wait(PassphraseScreen())
            self.client = await self._connect(secret)
        self.status("Connected")
        await self.refresh_chats()
        self.follow_events(self.client.hello["last_event"])

    @work(exclusive=True, group="events")
    async def follow_events(self, since: int) -> None:
        """Apply every event after ``since`` as it arrives."""
        assert self.client is not None
        try:
            async for event in self.client.events(since):
                await self.apply_event(event)
        except ServiceClosed:
            self.status("The Veil service stopped: restart `veil tui`.", error=True)

    async def apply_event(self, event: dict[str, Any]) -> None:
        """Update the view for one event."""
        contact, kind = event.get("contact"), event["kind"]
        if kind in _NOTICES:
            self.status(_NOTICES[kind].format(contact=contact, text=event.get("text")), error=True)
        if kind == "connected":
            self.status(f"Connected with {contact}.")
        if contact and kind == "message":
            self.last[contact] = event["text"]
            if contact != self.selected:
                self.unread[contact] = self.unread.get(contact, 0) + 1
        if contact is not None and contact == self.selected:
            await self.refresh_history()
        await self.refresh_chats()

    def status(self, text: str, *, error: bool = False) -> None:
        """Show ``text`` in the status line."""
        line = self.query_one("#status", Static)
        line.update(text)
        line.set_class(error, "error")

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """An API call; a failure is shown in the status line and gives None."""
        assert self.client is not None
        try:
            return await self.client.call(method, params)
        except (RemoteError, ServiceClosed) as error:
            self.status(str(error), error=True)
            return None

    async def refresh_chats(self) -> None:
        """Redraw the chat list from ``contacts``."""
        result = await self.call("contacts")
        if result is None:
            return
        self.contacts = result["contacts"]
        chats = self.query_one("#chats", ListView)
        await chats.clear()
        for contact in self.contacts:
            alias = contact["alias"]
            label = chat_label(contact, self.unread.get(alias, 0), self.last.get(alias))
            await chats.append(ListItem(Static(label), name=alias))
        aliases = [contact["alias"] for contact in self.contacts]
        if self.selected in aliases:
            chats.index = aliases.index(self.selected)

    async def refresh_history(self) -> None:
        """Redraw the open conversation."""
        alias = self.selected
        if alias is None:
            return
        result = await self.call("history", {"contact": alias, "limit": 200})
        if result is None or alias != self.selected:
            return
        self.history = result["messages"]
        messages = self.query_one("#messages", ListView)
        await messages.clear()
        texts = {message["id"]: message["text"] for message in self.history}
        for message in self.history:
            drawn = message_lines(message, texts.get(message["reply_to"]))
            await messages.append(ListItem(Static(drawn), name=str(message["id"])))
        if self.history:
            messages.index = len(self.history) - 1
            self.last[alias] = self.history[-1]["text"] or ""

    async def on_list_view_selected(self, event: ListView.Selected) -> None:
        if event.list_view.id == "chats" and event.item.name:
            await self.open_chat(event.item.name)

    async def open_chat(self, alias: str) -> None:
        """Show the conversation with ``alias``."""
        self.selected, self.reply_to, self.editing = alias, None, None
        self.unread.pop(alias, None)
        self.query_one("#title", Label).update(alias)
        self.show_replying()
        await self.refresh_history()
        await self.refresh_chats()
        self.query_one(Composer).focus()

    def show_replying(self) -> None:
        """Say above the composer whether it replies or edits."""
        text = ""
        if self.editing is not None:
            text = "Editing your message (Escape cancels)"
        elif self.reply_to is not None:
            text = f"Replying to: {self.reply_to['text']} (Escape cancels)"
        self.query_one("#replying", Label).update(text)

    async def on_composer_submitted(self, event: Composer.Submitted) -> None:
        text = event.text.strip()
        if not text or self.selected is None:
            return
        contact = self.selected
        if self.editing is not None:
            params = {"contact": contact, "message_id": self.editing, "text": text}
            done = await self.call("edit", params)
        else:
            reply = None if self.reply_to is None else self.reply_to["id"]
            done = await self.call("send", {"contact": contact, "texts": [text], "reply_to": reply})
        if done is not None:
            self.query_one(Composer).clear()
            self.reply_to, self.editing = None, None
            self.show_replying()
            await self.refresh_history()

    def on_composer_edit_last(self, _: Composer.EditLast) -> None:
        mine = [m for m in self.history if m["direction"] == "sent" and m["deleted"] == "none"]
        if mine:
            self.start_edit(mine[-1])

    def on_composer_cancel(self, _: Composer.Cancel) -> None:
        self.reply_to, self.editing = None, None
        self.show_replying()

    def start_edit(self, message: dict[str, Any]) -> None:
        """Put ``message`` in the composer to edit it."""
        self.editing, self.reply_to = message["id"], None
        composer = self.query_one(Composer)
        composer.load_text(message["text"] or "")
        composer.move_cursor(composer.document.end)  # type on at the end of the text
        self.show_replying()

    def selected_message(self) -> dict[str, Any] | None:
        """The message highlighted in the conversation."""
        index = self.query_one("#messages", ListView).index
        return None if index is None or index >= len(self.history) else self.history[index]

    async def on_key(self, event: Any) -> None:
        if self.focused is not self.query_one("#messages", ListView):
            return
        message = self.selected_message()
        if message is None or event.key not in ("r", "e", "plus"):
            return
        event.stop()
        if event.key == "r":
            self.reply_to, self.editing = message, None
            self.show_replying()
            self.query_one(Composer).focus()
        elif event.key == "e" and message["direction"] == "sent":
            self.start_edit(message)
            self.query_one(Composer).focus()
        elif event.key == "plus":
            params = {"contact": self.selected, "message_id": message["id"], "emoji": "👍"}
            if await self.call("react", params) is not None:
                await self.refresh_history()

    def action_help(self) -> None:
        keys = [(b.key, b.description) for b in self.BINDINGS if isinstance(b, Binding)]
        self.push_screen(HelpScreen([*keys, *self.MESSAGE_KEYS]))

    async def action_invite(self) -> None:
        result = await self.call("invite")
        if result is not None:
            self.push_screen(InviteScreen(result["link"], qr_text(result["link"])))

    @work(group="dialogs")
    async def action_join(self) -> None:
        link = await self.push_screen_wait(LinkScreen())
        if link and (result := await self.call("connect", {"link": link})) is not None:
            self.status(f"Connecting to {result['contact']['alias']}…")
            await self.refresh_chats()

    @work(group="dialogs")
    async def action_requests(self) -> None:
        result = await self.call("requests")
        if result is None:
            return
        chosen = await self.push_screen_wait(RequestsScreen(result["requests"]))
        if chosen is not None and await self.call("accept", {"request_id": chosen}) is not None:
            await self.refresh_chats()

    @work(group="dialogs")
    async def action_verify(self) -> None:
        contact = self.selected
        if contact is None:
            self.status("Open a chat first, then Ctrl+K shows its security code.", error=True)
            return
        ours = await self.call("verify", {"contact": contact})
        if ours is None:
            return
        typed = await self.push_screen_wait(VerifyScreen(contact, ours["code"], ours["verified"]))
        if typed and (checked := await self.call("verify", {"contact": contact, "code": typed})):
            if checked["verified"]:
                self.status(f"{contact} is verified ✔")
            else:
                self.status(f"The code does not match: this may not be {contact}.", error=True)
            await self.refresh_chats()

    async def action_relays(self) -> None:
        result = await self.call("contacts")
        if result is not None:
            self.push_screen(RelaysScreen(result["contacts"]))

    async def on_unmount(self) -> None:
        if self.client is not None:
            await self.client.close()
