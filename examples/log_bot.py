"""A Veil bot that keeps a log of its conversations, one JSON line per event.

    python examples/log_bot.py --home ~/bot-profile [--log-dir DIR]

Each contact gets a file ``DIR/ALIAS.jsonl`` with every message, edit, deletion
and reaction they sent, in the order the service logged them. ``/log`` answers
how many entries that contact's log holds; ``/forget`` clears it.
"""

import argparse
import json
import re
from pathlib import Path

from veil.bot import Bot, Command, Event, main

bot = Bot("log")
LOGGED_KINDS = ("message", "edit", "delete", "reaction")
log_dir = Path("conversation-logs")


def log_file(contact: str) -> Path:
    """The contact's log file; the alias is made safe for a file name."""
    return log_dir / (re.sub(r"[^\w.-]", "_", contact).lstrip(".") + ".jsonl")


@bot.on_event(*LOGGED_KINDS)
async def keep(event: Event) -> None:
    if event.contact is None:
        return
    entry = {"seq": event.seq, "at": event.at, "kind": event.kind, "text": event.text}
    with log_file(event.contact).open("a", encoding="utf-8") as file:
        file.write(json.dumps({**entry, "message_id": event.message_id}) + "\n")


@bot.command("log", help="how much of our conversation I have logged")
async def count(command: Command) -> None:
    path = log_file(command.contact)
    entries = len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0
    await command.reply(f"I have logged {entries} entries of our conversation.")


@bot.command("forget", help="clear my log of our conversation")
async def forget(command: Command) -> None:
    log_file(command.contact).unlink(missing_ok=True)
    await command.reply("Forgotten.")


if __name__ == "__main__":
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--log-dir", type=Path, default=log_dir)
    known, rest = options.parse_known_args()
    log_dir = known.log_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    main(bot, rest)
