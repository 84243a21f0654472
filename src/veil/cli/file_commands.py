"""The ``veil`` commands about files: ``send-file``, ``files`` and ``receive-file``.

Transfers show a progress bar (rich) with rate and time left; with ``--json`` they
print one JSON line per finished chunk (``{"event": "progress", ...}``) and a last
JSON object with the result. A transfer interrupted by anything (a crash, a lost
connection, a full relay) resumes when the same command runs again.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import click
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from veil.agent.file_transfers import ChunkDone
from veil.chat.files import FileSharing
from veil.chat.store.files import FileTransferRecord
from veil.cli.support import Output, common_options, local_messenger_of, run_command

__all__ = ["FILE_COMMANDS"]

_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _record_json(record: FileTransferRecord) -> dict[str, Any]:
    return {
        "id": record.transfer_id,
        "direction": record.direction.value,
        "name": record.name,
        "mime_type": record.mime_type,
        "size": record.size,
        "state": record.state.value,
        "path": record.path,
        "preview_bytes": len(record.preview),
    }


def _progress_json(progress: tuple[int, int] | None) -> dict[str, Any]:
    if progress is None:
        return {}
    return {"chunks_done": progress[0], "chunks": progress[1]}


def _listed_text(listed: dict[str, Any]) -> str:
    arrow = "->" if listed["direction"] == "sent" else "<-"
    where = f"  {listed['path']}" if listed["path"] else ""
    state = listed["state"]
    if "chunks" in listed:
        state += f" {listed['chunks_done']}/{listed['chunks']} chunks"
    return f"#{listed['id']} {arrow} {listed['name']} ({listed['size']} bytes) {state}{where}"


def _parse_size(text: str) -> int:
    cleaned = text.strip().lower().removesuffix("b").removesuffix("i")
    unit = cleaned[-1:] if cleaned[-1:] in _UNITS else ""
    number = cleaned[: len(cleaned) - len(unit)]
    if not number.isdigit():
        raise click.BadParameter(f"{text!r} is not a size such as 0, 500k, 20M or 1G")
    return int(number) * _UNITS[unit]


@contextlib.contextmanager
def _progress(output: Output, label: str) -> Iterator[Callable[[ChunkDone], None]]:
    """A progress callback: JSON lines, or a rich bar on stderr."""
    if output.as_json:

        def report(event: ChunkDone) -> None:
            line = {"event": "progress", "direction": event.direction, "chunk": event.index}
            line |= {"done": event.done, "total": event.total, "chunk_size": event.chunk_size}
            click.echo(json.dumps(line))

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

        def advance(event: ChunkDone) -> None:
            bar.update(task, total=event.total * event.chunk_size, advance=event.chunk_size)

        yield advance


def _with_files(
    home: Path, as_json: bool, body: Callable[[FileSharing, Output], Coroutine[Any, Any, None]]
) -> None:
    async def run(output: Output) -> None:
        async with local_messenger_of(home) as messenger:  # no file methods in the API yet
            sharing = FileSharing(messenger, home)
            try:
                await body(sharing, output)
            finally:
                await sharing.close()

    run_command(as_json, run)


@click.command("send-file")
@click.argument("contact")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--keep-metadata", is_flag=True, help="Send an image as it is, with its EXIF/GPS.")
@common_options
def send_file(home: Path, as_json: bool, contact: str, path: Path, keep_metadata: bool) -> None:
    """Send the file PATH to CONTACT, end-to-end encrypted, through your file relays.

    Images lose their metadata (EXIF, GPS, XMP, comments) unless --keep-metadata.
    Run it again after an interruption: it resumes.
    """

    async def body(sharing: FileSharing, output: Output) -> None:
        with _progress(output, f"sending {path.name}") as report:
            record = await sharing.send_file(
                contact, path, keep_metadata=keep_metadata, on_progress=report
            )
        output.emit(
            _record_json(record), f"sent {record.name} to {contact} (#{record.transfer_id})"
        )

    _with_files(home, as_json, body)


@click.command("files")
@click.option(
    "--auto-accept",
    "auto_accept",
    default=None,
    help="Download offers up to this size without asking (e.g. 20M; 0 turns it off).",
)
@common_options
def files(home: Path, as_json: bool, auto_accept: str | None) -> None:
    """List file transfers (sent and offered to you) with their state."""

    async def body(sharing: FileSharing, output: Output) -> None:
        if auto_accept is not None:
            sharing.set_auto_accept_bytes(_parse_size(auto_accept))
        records = [
            _record_json(r) | _progress_json(sharing.progress(r.transfer_id))
            for r in sharing.transfers()
        ]
        sending = sharing.uploads_under_way()
        limit = sharing.auto_accept_bytes()
        lines = [_listed_text(r) for r in records]
        lines += [
            f"-> {u['name']} to {u['contact']}: uploading, {u['chunks_done']}/{u['chunks']} "
            "chunks (run the same send-file again to resume)"
            for u in sending
        ]
        data = {"transfers": records, "uploading": sending, "auto_accept_bytes": limit}
        output.emit(data, "\n".join(lines) or "no file transfers")

    _with_files(home, as_json, body)


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
def receive_file(
    home: Path, as_json: bool, transfer_id: int | None, target: Path, auto: bool
) -> None:
    """Download the file offered as ID (see `veil files`), verified and decrypted.

    Run it again after an interruption: it resumes where it stopped.
    """

    async def body(sharing: FileSharing, output: Output) -> None:
        if transfer_id is None and not auto:
            raise ValueError("give a file ID (`veil files` lists them) or --auto")
        ids = (
            [transfer_id]
            if transfer_id is not None
            else [r.transfer_id for r in sharing.auto_accepted()]
        )
        for number in ids:
            with _progress(output, f"receiving #{number}") as report:
                record = await sharing.receive_file(number, target, on_progress=report)
            output.emit(_record_json(record), f"saved {record.path}")

    _with_files(home, as_json, body)


FILE_COMMANDS = (send_file, files, receive_file)
