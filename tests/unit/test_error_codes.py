"""The error-code table of each layer's page in docs/protocol/ and the code agree,
both ways: every documented code names the class that carries it, and every error
class of the layer's error module is documented with its code.

A table is any markdown table whose first column is ``code`` and which has an
``error`` column holding the class name (in backticks).
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

from veil.errors import LocalError, ProtocolError, VeilError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "protocol"

#: Each layer's page and the modules that define its errors.
LAYERS = {
    "ratchet": ("ratchet.md", ("veil.ratchet.errors",)),
    "relay": ("relay.md", ("veil.relay.protocol.errors",)),
    "routing": ("routing.md", ("veil.routing.errors",)),
    "agent": ("agent.md", ("veil.agent.errors", "veil.agent.groups.errors")),
    "chat": ("chat.md", ("veil.chat.errors", "veil.chat.group_errors")),
    "service": ("service.md", ("veil.service.errors",)),
    "bot": ("bot.md", ("veil.bot.errors",)),
}
#: Codes each layer may use; the ranges are disjoint.
RANGES = {
    "ratchet": range(200, 300),
    "relay": range(400, 470),
    "routing": range(470, 500),
    "agent": range(500, 600),
    "chat": range(600, 700),
    "service": range(900, 960),
    "bot": range(960, 980),
}

_CELL = re.compile(r"`?([A-Za-z_][A-Za-z0-9_]*)`?")


def documented_codes(text: str) -> dict[int, str]:
    """Every ``code -> class name`` row of the error tables in ``text``."""
    table: dict[int, str] = {}
    columns: list[str] | None = None
    for line in text.splitlines():
        if not line.startswith("|"):
            columns = None
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if columns is None:
            columns = cells if cells[0] == "code" and "error" in cells else []
            continue
        if not columns or set(cells[0]) <= {"-", " ", ":"}:
            continue
        name = _CELL.fullmatch(cells[columns.index("error")])
        assert name is not None, f"not a class name: {line}"
        assert int(cells[0]) not in table, f"code {cells[0]} documented twice"
        table[int(cells[0])] = name.group(1)
    return table


def coded_classes(modules: tuple[str, ...]) -> dict[int, str]:
    """Every ``code -> class name`` of the error classes the modules define."""
    table: dict[int, str] = {}
    for module_name in modules:
        module = importlib.import_module(module_name)
        for name, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, VeilError) and value.__module__ == module_name:
                assert value.code not in table, f"{name} reuses code {value.code}"
                table[value.code] = name
    return table


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_documented_codes_and_code_agree_both_ways(layer: str) -> None:
    page, modules = LAYERS[layer]
    documented = documented_codes((DOCS / page).read_text(encoding="utf-8"))
    in_code = coded_classes(modules)
    assert documented, f"{page} has no error table"
    missing_from_docs = {c: n for c, n in in_code.items() if documented.get(c) != n}
    missing_from_code = {c: n for c, n in documented.items() if in_code.get(c) != n}
    assert not missing_from_docs, f"{page} lacks (or misnames) {missing_from_docs}"
    assert not missing_from_code, f"{page} documents {missing_from_code}, not in the code"


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_each_layer_keeps_to_its_own_code_range(layer: str) -> None:
    codes = set(coded_classes(LAYERS[layer][1]))
    assert codes <= set(RANGES[layer]), sorted(codes - set(RANGES[layer]))


# The ratchet's local errors (CorruptRatchetState, CannotSendYet) do not derive from
# LocalError yet; the ratchet is changed by its own work, not by this one.
@pytest.mark.parametrize("layer", ["agent", "bot", "chat", "relay", "routing", "service"])
def test_every_error_is_either_local_or_remote(layer: str) -> None:
    for module_name in LAYERS[layer][1]:
        module = importlib.import_module(module_name)
        for name, value in inspect.getmembers(module, inspect.isclass):
            if not issubclass(value, VeilError) or value.__module__ != module_name:
                continue
            kinds = issubclass(value, LocalError), issubclass(value, ProtocolError)
            base = not any(kinds) and value.__bases__ == (VeilError,)
            assert base or kinds.count(True) == 1, f"{name} is {kinds}"


def test_the_table_parser_reads_a_table_and_ignores_other_tables() -> None:
    text = (
        "| code | name |\n| --- | --- |\n| 7 | not this |\n\n"
        "| code | error | meaning |\n| --- | --- | --- |\n| 501 | `Broken` | why |\n"
    )
    assert documented_codes(text) == {501: "Broken"}
