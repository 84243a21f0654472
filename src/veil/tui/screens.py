"""The TUI's modal screens: help, invitation, joining, requests, security codes,
relays and the passphrase. Each returns what the person chose with ``dismiss``."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

__all__ = [
    "HelpScreen",
    "InviteScreen",
    "LinkScreen",
    "PassphraseScreen",
    "RelaysScreen",
    "RequestsScreen",
    "VerifyScreen",
]


class _Modal(ModalScreen[Any]):
    """A dialog that Escape closes."""

    BINDINGS = [Binding("escape", "dismiss_empty", "Close")]
    DEFAULT_CSS = """
    _Modal, HelpScreen, InviteScreen, LinkScreen, PassphraseScreen, RelaysScreen,
    RequestsScreen, VerifyScreen { align: center middle; }
    .dialog { width: 80; height: auto; max-height: 90%; border: round $accent;
              padding: 1 2; background: $surface; }
    .title { text-style: bold; margin-bottom: 1; }
    """

    def action_dismiss_empty(self) -> None:
        self.dismiss(None)


class HelpScreen(_Modal):
    """Every key binding, made from the bindings themselves so it cannot drift."""

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.bindings_text = "\n".join(f"{key:>14}  {what}" for key, what in bindings)

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="help"):
            yield Label("Keys", classes="title")
            yield Static(self.bindings_text, id="help-text")
            yield Label("Escape closes this help.")


class InviteScreen(_Modal):
    """A one-time link and its QR code, to give one person."""

    def __init__(self, link: str, qr: str) -> None:
        super().__init__()
        self.link, self.qr = link, qr

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Label("Invite someone: give this one-time link to one person", classes="title")
            yield Static(self.qr, id="qr")
            yield Static(self.link, id="invite-link")
            yield Label("Escape closes.")


class LinkScreen(_Modal):
    """Asks for an invitation or contact-address link to connect with."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Connect with a link (veil://…), then Enter", classes="title")
            yield Input(placeholder="veil://…", id="link")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)


class RequestsScreen(_Modal):
    """Contact requests that arrived on your address; a button accepts each."""

    def __init__(self, requests: list[dict[str, Any]]) -> None:
        super().__init__()
        self.requests = requests

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Contact requests", classes="title")
            if not self.requests:
                yield Label("No requests.")
            for request in self.requests:
                yield Button(f"Accept {request['name']}", id=f"accept-{request['id']}")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        assert event.button.id is not None
        self.dismiss(int(event.button.id.removeprefix("accept-")))


class VerifyScreen(_Modal):
    """Your security code with a contact, and a field for the code they read to you."""

    def __init__(self, contact: str, code: str, verified: bool) -> None:
        super().__init__()
        self.contact, self.code, self.verified = contact, code, verified

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Security code with {self.contact}", classes="title")
            yield Label("Compare it with theirs, in person or on a call:")
            yield Static(self.code, id="our-code")
            yield Label("Verified ✔" if self.verified else "Type the code they read to you:")
            yield Input(placeholder="12345 67890 …", id="their-code")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)


class RelaysScreen(_Modal):
    """Which relays each contact's conversation uses, and whether sends are proxied."""

    def __init__(self, contacts: list[dict[str, Any]]) -> None:
        super().__init__()
        self.contacts = contacts

    def compose(self) -> ComposeResult:
        lines = []
        for contact in self.contacts:
            for relays in contact["relays"]:
                route = "proxied" if relays["proxied"] else "direct"
                lines.append(f"{contact['alias']}: receive {relays['receive']}")
                lines.append(f"    send {relays['send'] or '—'} ({route})")
        with VerticalScroll(classes="dialog"):
            yield Label("Relays and routing", classes="title")
            yield Static("\n".join(lines) or "No contacts yet.", id="relays")


class PassphraseScreen(ModalScreen[str]):
    """Asks for the profile's passphrase to start its service."""

    DEFAULT_CSS = """
    PassphraseScreen { align: center middle; }
    PassphraseScreen Vertical { width: 60; height: auto; border: round $accent; padding: 1 2; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("No `veil serve` runs for this profile. Passphrase to start it:")
            yield Input(password=True, id="passphrase")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value:
            self.dismiss(event.value)
