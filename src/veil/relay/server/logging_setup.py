"""Structured logs for the relay: one JSON object per line on stderr.

What may be logged is deliberately narrow (see docs/operators.md): event names,
counts, durations, error class names and listening addresses. Never queue ids,
keys, message bodies, passwords or client IP addresses: the relay's logs must be
as uninteresting to a subpoena as its database. Call sites pass fields through
:func:`fields` so a reviewer can see every logged value at a glance.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import IO, Any

__all__ = ["LOGGER_NAME", "JsonLineFormatter", "configure_logging", "fields"]

LOGGER_NAME = "veil.relay"
_FIELDS_ATTRIBUTE = "veil_fields"


def fields(**values: str | int | float | bool | None) -> dict[str, Any]:
    """Wrap structured values for ``logger.info(event, extra=fields(...))``."""
    return {_FIELDS_ATTRIBUTE: values}


class JsonLineFormatter(logging.Formatter):
    """Formats a record as ``{"time", "level", "event", ...fields}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": round(record.created, 3),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        entry.update(getattr(record, _FIELDS_ATTRIBUTE, {}))
        if record.exc_info and record.exc_info[0] is not None:
            # The class name only: exception messages may quote network input.
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry, separators=(",", ":"))


def configure_logging(level: str, stream: IO[str] | None = None) -> logging.Logger:
    """Send the relay's logs at ``level`` and above to ``stream`` (stderr by default)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False
    return logger
