"""The TUI and the web app are thin: they reach Veil only through the service's API.

Every ``veil`` import in ``veil.tui`` and ``veil.web`` must be the package itself,
the API client and its shapes and errors, the launcher that starts ``veil serve``,
or the injected randomness of ``veil.crypto`` (for web session ids). Protocol,
store, agent and chat code stays behind the API (issue #13).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "veil"
ALLOWED = {
    "veil.service.client",
    "veil.service.api_types",
    "veil.service.errors",
    "veil.service.launcher",
    "veil.crypto",
}


def veil_imports(package: str) -> dict[str, set[str]]:
    """``module -> the veil modules it imports`` for every module of ``package``."""
    found: dict[str, set[str]] = {}
    for path in sorted((SRC / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[str(path.relative_to(SRC))] = {name for name in names if name.startswith("veil")}
    return found


def outside_the_api(package: str) -> list[str]:
    """Imports of ``package`` that bypass the API."""
    return sorted(
        f"{module} imports {name}"
        for module, names in veil_imports(package).items()
        for name in names
        if name not in ALLOWED and not name.startswith(f"veil.{package}")
    )


@pytest.mark.parametrize("package", ["tui", "web"])
def test_the_interface_uses_only_the_api_client(package: str) -> None:
    assert veil_imports(package), f"no modules found under veil.{package}"
    assert outside_the_api(package) == []


def test_the_check_sees_a_bypass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    planted = tmp_path / "veil" / "tui"
    planted.mkdir(parents=True)
    (planted / "sneaky.py").write_text("from veil.chat.app import Messenger\n", encoding="utf-8")
    monkeypatch.setattr(__import__(__name__, fromlist=["SRC"]), "SRC", tmp_path / "veil")
    assert outside_the_api("tui") == ["tui/sneaky.py imports veil.chat.app"]
