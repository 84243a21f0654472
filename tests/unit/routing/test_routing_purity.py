"""The routing layer's protocol and policy modules stay sans-I/O (STYLE.md habit 1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import veil.routing

ROUTING = Path(veil.routing.__file__).parent
# socks.py (asyncio), cli.py and config_file.py (files) are the I/O edges.
PURE = [
    "__init__.py",
    "codec.py",
    "config.py",
    "envelope.py",
    "errors.py",
    "policy.py",
    "protocol.py",
]
FORBIDDEN = {"asyncio", "socket", "ssl", "time", "random", "os", "secrets", "click"}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("name", PURE)
def test_module_does_no_io(name: str) -> None:
    assert not imported_roots(ROUTING / name) & FORBIDDEN
