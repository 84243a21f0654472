"""Offers within the automatic acceptance limit, downloaded as they arrive.

``veil serve`` keeps one :class:`AutoAccept`: each arrival of kind ``file`` wakes
it, and it downloads every offer within the profile's limit (``file.settings``,
``veil files --auto-accept``) into the profile's ``downloads`` folder, one at a
time, beside the receive loop. It also looks once at start, so a download a
stopped service left half done resumes. Each download logs its progress and
outcome as events (:mod:`veil.chat.file_events`); one that fails is logged and
tried again at the next offer (or with ``veil receive-file ID``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from veil.chat.app import Messenger
from veil.chat.conversation import Incoming
from veil.chat.files import FileSharing

__all__ = ["AutoAccept"]

_log = logging.getLogger(__name__)


class AutoAccept:
    """Downloads the profile's automatically accepted offers in the background."""

    def __init__(self, messenger: Messenger, home: Path) -> None:
        self._messenger = messenger
        self._home = home
        self._wake = asyncio.Event()
        self._wake.set()  # look once at start
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the background downloads."""
        self._task = asyncio.create_task(self._run())

    def arrived(self, incoming: Incoming) -> None:
        """Called with every arrival: an offer wakes the downloads."""
        if incoming.kind == "file":
            self._wake.set()

    async def stop(self) -> None:
        """Stop (a download under way resumes at the next start)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            sharing = FileSharing(self._messenger, self._home)
            try:
                await sharing.receive_auto_accepted()
            except Exception:
                _log.exception("automatic downloads failed; they are tried at the next offer")
            finally:
                await sharing.close()
