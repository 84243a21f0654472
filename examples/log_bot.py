"""A Veil bot that keeps a log of its conversations and groups, one JSON line per event.

    python examples/log_bot.py --home ~/bot-profile [--log-dir DIR]

Each contact gets a file ``DIR/ALIAS.jsonl`` with every message, edit, deletion
and reaction they sent, in the order the service logged them. Each group the bot is
in gets ``DIR/groups/ALIAS.jsonl`` with the same for every member (``sender``), and
who joined, left, was removed or changed role. ``/join LINK`` (sent to the bot by a
contact) makes it ask to join a group by its link; once the group's admin accepts
the bot, it logs the group. ``/log`` answers how many entries the log of that
conversation or group holds; ``/forget`` clears it.
"""

import argparse
import json
import re
from pathlib import Path

from veil.bot import Bot, Command, Event, main

bot = Bot("log")
LOGGED_KINDS = ("message", "edit", "delete", "reaction")
GROUP_KINDS = ("member-joined", "member-left", "member-removed", "role-changed")
log_dir = Path("conversation-logs")


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]", "_", name).lstrip(".") + ".jsonl"


def log_file(contact: str, group: str | None = None) -> Path:
    """The log of a contact, or of a group; the alias is made safe for a file name."""
    if group is not None:
        return log_dir / "groups" / _safe(group)
    return log_dir / _safe(contact)


@bot.on_event(*LOGGED_KINDS, *GROUP_KINDS)
async def keep(event: Event) -> None:
    if event.group is None and event.contact is None:
        return
    entry = {"seq": event.seq, "at": event.at, "kind": event.kind, "text": event.text}
    if event.group is not None:
        entry["sender"] = event.sender
    path = log_file(event.contact or "", event.group)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as file:
        file.write(json.dumps({**entry, "message_id": event.message_id}) + "\n")


@bot.command("log", help="how much of our conversation (or this group) I have logged")
async def count(command: Command) -> None:
    path = log_file(command.contact, command.group)
    entries = len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0
    what = "this group" if command.group else "our conversation"
    await command.reply(f"I have logged {entries} entries of {what}.")


@bot.command("forget", help="clear my log of our conversation (or this group)")
async def forget(command: Command) -> None:
    log_file(command.contact, command.group).unlink(missing_ok=True)
    await command.reply("Forgotten.")


@bot.command("join", help="join a group by its link and log it: /join LINK [ALIAS]")
async def join(command: Command) -> None:
    link, _, alias = command.args.partition(" ")
    joined = await bot.actions.group_join(link, alias.strip() or f"group-{command.event.seq}")
    await command.reply(f"Asked to join; I log {joined['group']} once an admin lets me in.")


if __name__ == "__main__":
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--log-dir", type=Path, default=log_dir)
    known, rest = options.parse_known_args()
    log_dir = known.log_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    main(bot, rest)
