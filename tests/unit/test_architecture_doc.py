"""docs/architecture.md matches the tree: its layer diagram names every package under
src/veil, in the order of the layering test's LAYERS, and nothing that does not exist.
"""

from __future__ import annotations

import re
from pathlib import Path

from unit.test_layering import LAYERS, UMBRELLAS

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"


def diagram_rows() -> list[list[str]]:
    """The packages of each row of the first code block, top row first."""
    text = DOC.read_text(encoding="utf-8")
    block = text.split("```", 2)[1]
    rows = [re.findall(r"\bveil(?:\.[a-z_]+)+", line) for line in block.splitlines()]
    return [row for row in rows if row]


def test_the_diagram_lists_the_layers_of_the_layering_test_top_down() -> None:
    bottom_up = [sorted(row) for row in reversed(diagram_rows())]
    assert bottom_up == [sorted(layer) for layer in LAYERS]


def test_every_package_in_the_tree_is_on_the_map() -> None:
    named = {package for row in diagram_rows() for package in row}
    packages = {
        ".".join(path.parent.relative_to(ROOT / "src").parts)
        for path in (ROOT / "src" / "veil").rglob("__init__.py")
    }
    top_level = {
        package for package in packages if package not in UMBRELLAS and package.count(".") <= 2
    }
    covered = {p for p in top_level if any(p == n or p.startswith(n + ".") for n in named)}
    assert covered == top_level, sorted(top_level - covered)
    assert named <= packages | {"veil.errors"}, sorted(named - packages)


def test_every_module_the_page_names_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    named = set(re.findall(r"`([a-z_]+(?:/[a-z_]+)*\.py)`", text))
    assert named, "the page names no module"
    source = ROOT / "src" / "veil"
    missing = sorted(
        path for path in named if not (source / path).exists() and not (ROOT / path).exists()
    )
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"
