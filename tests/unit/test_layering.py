"""Protocol layers stay sans-I/O: they never import the modules that do I/O or read
the clock or global randomness (STYLE.md habit 1, DESIGN.md invariant 5).

Whole packages that must be pure are listed in PURE_PACKAGES; in the mixed packages
each pure module is named, and the rest (servers, clients, CLIs, stores, runtimes)
are the I/O edges.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "veil"
PURE_PACKAGES = ("crypto", "mls", "ratchet", "wire")
PURE_MODULES = {
    "relay": (
        "authorization",
        "client_protocol",
        "commands",
        "errors",
        "handshake",
        "protocol",
        "queue_crypto",
        "queue_index",
        "session_state",
        "transmission",
    ),
    "agent": (
        "address",
        "connection",
        "delivery",
        "duplicates",
        "envelope",
        "errors",
        "events",
        "frames",
        "invitations",
        "links",
        "payloads",
        "queues",
    ),
    "routing": ("__init__", "codec", "config", "envelope", "errors", "policy", "protocol"),
    "chat": ("errors", "events", "profile", "text"),
}
FORBIDDEN = {
    "asyncio",
    "click",
    "os",
    "random",
    "secrets",
    "selectors",
    "socket",
    "ssl",
    "subprocess",
    "time",
}
# The system CSPRNG adapter is the one sanctioned place that touches OS randomness.
ALLOWED = {("crypto/random.py", "secrets")}


def pure_modules() -> list[Path]:
    found = [path for package in PURE_PACKAGES for path in (SRC / package).rglob("*.py")]
    for package, names in PURE_MODULES.items():
        found += [SRC / package / f"{name}.py" for name in names]
    return sorted(found)


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", pure_modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_pure_module_does_no_io(path: Path) -> None:
    relative = str(path.relative_to(SRC))
    bad = {m for m in imported_roots(path) & FORBIDDEN if (relative, m) not in ALLOWED}
    assert not bad, f"{relative} imports {sorted(bad)}"
