"""What a running process costs, read from /proc (Linux): shared by tests and benchmarks."""

from __future__ import annotations

from pathlib import Path

__all__ = ["rss_kib"]


def rss_kib(pid: int) -> int:
    """Resident set size of process ``pid`` in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS line")
