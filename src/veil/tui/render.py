"""How the TUI draws API shapes as text (pure functions, no widgets)."""

from __future__ import annotations

import io
import time
from typing import Any

import segno

__all__ = ["TICKS", "chat_label", "message_lines", "qr_text"]

#: Delivery state of a message you sent, as the conversation shows it.
TICKS = {"pending": "🕓 in outbox", "sent": "✓", "delivered": "✓✓", "read": "✓✓ read"}


def chat_label(contact: dict[str, Any], unread: int, last: str | None) -> str:
    """One line of the chat list: name, verified mark, unread count, last message."""
    name = contact["alias"] + (" ✔" if contact["verified"] else "")
    badge = f" ({unread})" if unread else ""
    status = "" if contact["status"] == "connected" else f" · {contact['status']}"
    preview = f"\n  {_one_line(last)}" if last else ""
    return f"{name}{badge}{status}{preview}"


def message_lines(message: dict[str, Any], quoted: str | None, now: float | None = None) -> str:
    """A message as the conversation shows it: the ``quoted`` text it replies to, its
    text, reactions, delivery state and integrity marks."""
    mine = message["direction"] == "sent"
    who = "You" if mine else "They"
    text = "(deleted)" if message["deleted"] != "none" else message["text"] or ""
    lines = []
    if message["is_reply"]:
        lines.append(f"  ┃ {_one_line(quoted or '(a message no longer here)')}")
    lines.append(f"{who}: {text}")
    reactions = " ".join(emoji for _, emoji in message["reactions"])
    meta = [_clock(message["sent_at"], now)]
    if message["edited"]:
        meta.append("edited")
    if mine:
        meta.append(TICKS.get(message["receipt"], message["receipt"]))
    if reactions:
        meta.append(reactions)
    if message["integrity"] not in ("ok", ""):
        meta.append(f"⚠ {message['integrity']}")
    lines.append("  " + " · ".join(meta))
    return "\n".join(lines)


def qr_text(link: str) -> str:
    """``link`` as a QR code drawn with block characters (scans from a terminal)."""
    out = io.StringIO()
    segno.make(link, error="m").terminal(out=out, compact=True)
    return out.getvalue()


def _one_line(text: str | None, width: int = 40) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _clock(at: float, now: float | None) -> str:
    moment = time.localtime(at)
    same_day = now is not None and time.localtime(now)[:3] == moment[:3]
    return time.strftime("%H:%M" if same_day or now is None else "%d %b %H:%M", moment)
