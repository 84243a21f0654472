"""The composer: a multi-line text area where Enter sends."""

from __future__ import annotations

from textual import events
from textual.message import Message
from textual.widgets import TextArea

__all__ = ["Composer"]

#: Keys that put a new line in the message instead of sending it.
NEWLINE_KEYS = ("ctrl+j", "shift+enter", "alt+enter")


class Composer(TextArea):
    """Enter sends; Ctrl+J (or Shift/Alt+Enter) starts a new line; Up on an empty
    composer edits your last message; Escape drops a reply or an edit."""

    class Submitted(Message):
        """The person pressed Enter on this text."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class EditLast(Message):
        """Up on an empty composer: edit the last message you sent."""

    class Cancel(Message):
        """Escape: no reply, no edit."""

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.prevent_default()
            event.stop()
            self.post_message(self.Submitted(self.text))
        elif event.key in NEWLINE_KEYS:
            event.prevent_default()
            event.stop()
            self.insert("\n")
        elif event.key == "up" and not self.text:
            event.stop()
            self.post_message(self.EditLast())
        elif event.key == "escape":
            event.stop()
            self.post_message(self.Cancel())
        else:
            await super()._on_key(event)
