"""The ``veil`` commands about files: ``send-file``, ``files`` and ``receive-file``.

Each is one call of the API's file methods (``file.send``, ``file.list`` and
``file.settings``, ``file.receive``) through the Session: to the profile's ``veil
serve`` when one runs, else in-process. ``--json`` prints the method's result; the
transfer's ``file-progress`` events show as a progress bar (rich) with rate and
time left, or with ``--json`` as JSON lines (``{"event": "progress", ...}``) before
the result. A transfer interrupted by anything (a crash, a lost connection, a full
relay) resumes when the same command runs again.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import click
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from veil.cli.sessions import Session
from veil.cli.support import Output, common_options, with_session
from veil.service.api_file_types import FileListResult, FileShape
from veil.service.api_types import EventShape

__all__ = ["FILE_COMMANDS"]

_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
Watch = Callable[[EventShape], bool]


def _listed_text(listed: FileShape) -> str:
    arrow = "->" if listed["direction"] == "sent" else "<-"
    where = f"  {listed['path']}" if listed["path"] else ""
    state: str = listed["state"]
    if "chunks" in listed:
        state += f" {listed.get('chunks_done', 0)}/{listed['chunks']} chunks"
    return f"#{listed['id']} {arrow} {listed['name']} ({listed['size']} bytes) {state}{where}"


def _parse_size(text: str) -> int:
    cleaned = text.strip().lower().removesuffix("b").removesuffix("i")
    unit = cleaned[-1:] if cleaned[-1:] in _UNITS else ""
    number = cleaned[: len(cleaned) - len(unit)]
    if not number.isdigit():
        raise click.BadParameter(f"{text!r} is not a size such as 0, 500k, 20M or 1G")
    return int(number) * _UNITS[unit]


def _chunks(event: EventShape) -> tuple[str, int, int]:
    """``(direction, done, total)`` of a ``file-progress`` event (text ``up 3/40``)."""
    direction, _, counts = event["text"].partition(" ")
    done, _, total = counts.partition("/")
    return direction, int(done), int(total)


@contextlib.contextmanager
def _progress(
    output: Output, label: str, size: int, wanted: Watch
) -> Iterator[Callable[[EventShape], None]]:
    """An event callback that shows the ``file-progress`` events ``wanted`` lets
    through: JSON lines, or a rich bar on stderr (in bytes when ``size`` is known)."""
    if output.as_json:

        def report(event: EventShape) -> None:
            if event["kind"] == "file-progress" and wanted(event):
                direction, done, total = _chunks(event)
                line = {"event": "progress", "direction": direction, "done": done}
                click.echo(json.dumps(line | {"total": total, "id": event["id"]}))

        yield report
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def advance(event: EventShape) -> None:
            if event["kind"] == "file-progress" and wanted(event):
                _, done, total = _chunks(event)
                scale = size / total if size else 1
                bar.update(task, total=total * scale, completed=done * scale)

        yield advance


@click.command("send-file")
@click.argument("contact")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--keep-metadata", is_flag=True, help="Send an image as it is, with its EXIF/GPS.")
@common_options
@with_session
async def send_file(
    session: Session, output: Output, *, contact: str, path: Path, keep_metadata: bool
) -> None:
    """Send the file PATH to CONTACT, end-to-end encrypted, through your file relays.

    Images lose their metadata (EXIF, GPS, XMP, comments) unless --keep-metadata.
    Run it again after an interruption: it resumes.
    """
    source = path.resolve()  # the service's working folder is not ours

    def ours(event: EventShape) -> bool:
        return event["id"] is None and event["text"].startswith("up ")

    params = {"contact": contact, "path": str(source), "keep_metadata": keep_metadata}
    size = source.stat().st_size
    with _progress(output, f"sending {path.name}", size, ours) as report:
        record: FileShape = await session.call_watching("file.send", params, report)
    output.emit(dict(record), f"sent {record['name']} to {record['contact']} (#{record['id']})")


@click.command("files")
@click.option(
    "--auto-accept",
    "auto_accept",
    default=None,
    help="Download offers up to this size as they arrive (e.g. 20M; 0 turns it off).",
)
@common_options
@with_session
async def files(session: Session, output: Output, *, auto_accept: str | None) -> None:
    """List file transfers (sent and offered to you) with their state.

    Offers within --auto-accept download by themselves while `veil serve` or `veil
    receive` runs, into the profile's downloads folder.
    """
    if auto_accept is not None:
        await session.call("file.settings", {"auto_accept_bytes": _parse_size(auto_accept)})
    listed: FileListResult = await session.call("file.list")
    lines = [_listed_text(r) for r in listed["transfers"]]
    lines += [
        f"-> {u['name']} to {u['contact']}: uploading, {u['chunks_done']}/{u['chunks']} "
        "chunks (run the same send-file again to resume)"
        for u in listed["uploading"]
    ]
    output.emit(dict(listed), "\n".join(lines) or "no file transfers")


@click.command("receive-file")
@click.argument("transfer_id", metavar="ID", type=int, required=False)
@click.option(
    "--to",
    "target",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="Folder to save into (default: here).",
)
@click.option("--auto", is_flag=True, help="Download every offer under the --auto-accept size.")
@common_options
@with_session
async def receive_file(
    session: Session, output: Output, *, transfer_id: int | None, target: Path, auto: bool
) -> None:
    """Download the file offered as ID (see `veil files`), verified and decrypted.

    Run it again after an interruption: it resumes where it stopped.
    """
    if transfer_id is None and not auto:
        raise ValueError("give a file ID (`veil files` lists them) or --auto")
    sizes = {t["id"]: t["size"] for t in (await session.call("file.list"))["transfers"]}

    def ours(event: EventShape) -> bool:
        return event["text"].startswith("down ") and (auto or event["id"] == transfer_id)

    size = sizes.get(transfer_id, 0) if transfer_id is not None else 0
    params = {"id": transfer_id, "auto": auto, "to": str(target.resolve())}
    label = "receiving" if transfer_id is None else f"receiving #{transfer_id}"
    with _progress(output, label, size, ours) as report:
        result = await session.call_watching("file.receive", params, report)
    saved = "\n".join(f"saved {r['path']}" for r in result["received"])
    output.emit(result, saved or "no offer within the automatic acceptance size")


FILE_COMMANDS = (send_file, files, receive_file)
