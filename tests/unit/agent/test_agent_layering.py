"""The agent's sans-I/O core never imports I/O, the clock or global randomness.

Only :mod:`veil.agent.runtime`, :mod:`veil.agent.outbox` and
:mod:`veil.agent.relay_pool` (the asyncio edge) may; everything below is driven
with frames in, actions and events out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

AGENT = Path(__file__).resolve().parents[3] / "src" / "veil" / "agent"
CORE = ("connection", "frames", "payloads", "queues", "delivery", "address", "invitations")
FORBIDDEN = {"asyncio", "socket", "ssl", "time", "random", "os", "selectors", "subprocess"}


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("name", CORE)
def test_agent_core_module_is_sans_io(name: str) -> None:
    assert not _imported_roots(AGENT / f"{name}.py") & FORBIDDEN
