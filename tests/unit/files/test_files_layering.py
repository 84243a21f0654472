"""``veil.files`` sits beside ``ratchet`` and ``mls``: it imports only the crypto and
wire layers below it, and its protocol modules do no I/O (the image cleaner calls
Pillow on bytes in memory only)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FILES = Path(__file__).resolve().parents[3] / "src" / "veil" / "files"
ALLOWED_VEIL = {"veil.crypto", "veil.wire", "veil.errors", "veil.files"}
NO_IO = {"asyncio", "os", "random", "secrets", "selectors", "socket", "ssl", "subprocess", "time"}


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted(FILES.glob("*.py")), ids=lambda p: p.name)
def test_files_imports_nothing_above_it_and_does_no_io(path: Path) -> None:
    imported = imports_of(path)
    veil = {name for name in imported if name.split(".")[0] == "veil"}
    upward = {n for n in veil if not any(n.startswith(ok) for ok in ALLOWED_VEIL)}
    assert not upward, f"{path.name} imports {sorted(upward)}"
    assert not {name.split(".")[0] for name in imported} & NO_IO
