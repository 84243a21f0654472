"""Write the API's JSON Schema and its reference page, both generated from the code.

    .venv/bin/python -m veil.service.api_docs      # rewrites docs/api/schema.json, docs/api.md

``tests/unit/service/test_api_docs.py`` fails when either file differs from what
this makes, so the checked-in schema never drifts from the TypedDicts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from veil.service.schema import api_schema

__all__ = ["render_markdown", "render_schema", "write"]

_INTRO = """# The Veil service API

Generated from `src/veil/service/api_types.py` and `src/veil/service/catalog.py` by
`python -m veil.service.api_docs`; do not edit by hand. The machine-readable schema is
`docs/api/schema.json`.

`veil serve` answers JSON-RPC 2.0 on the Unix socket `service.sock` in the profile
folder (one JSON object per line) and, with `--listen HOST:PORT`, on a WebSocket (one
object per message). Frames are at most 1 MiB. The first call on a connection must be
`hello` with the token from `service.token` (mode 0600) and the client's API version
range. Parameters are passed by name. Results are the same objects `veil ... --json`
prints. Errors carry the Veil code and error name in `error.data` (`{"code", "kind"}`);
the service's own codes (9xx) are in `docs/protocol/service.md`.

Events are logged in the encrypted store in the same transaction as the change that
caused them, each with a sequence number `seq`. `subscribe` with the last `seq` a
client saw sends every later event as an `event` notification, in order, then each
new one: a client that reconnects misses nothing and sees nothing twice.
"""


def render_schema() -> str:
    """The schema file's text."""
    return json.dumps(api_schema(), indent=2, ensure_ascii=False) + "\n"


def _type_text(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in schema:
        return " or ".join(_type_text(option) for option in schema["anyOf"])
    if "enum" in schema:
        return " \\| ".join(f"`{value}`" for value in schema["enum"])
    if schema.get("type") == "array":
        return f"list of {_type_text(schema['items'])}"
    return str(schema.get("type", "?"))


def _shape_section(name: str, shape: dict[str, Any]) -> list[str]:
    lines = [f"### {name}", "", shape["description"], ""]
    if not shape["properties"]:
        return [*lines, "(no fields)", ""]
    lines += ["| field | type | required |", "| --- | --- | --- |"]
    for field, schema in shape["properties"].items():
        required = "yes" if field in shape["required"] else "no"
        lines.append(f"| `{field}` | {_type_text(schema)} | {required} |")
    return [*lines, ""]


def render_markdown() -> str:
    """The reference page's text."""
    schema = api_schema()
    versions = schema["versions"]
    lines = [_INTRO, f"API versions: {versions['min']}..{versions['max']}.", "", "## Methods", ""]
    lines += ["| method | params | result | what it does |", "| --- | --- | --- | --- |"]
    for name, method in schema["methods"].items():
        params, result = _type_text(method["params"]), _type_text(method["result"])
        lines.append(f"| `{name}` | {params} | {result} | {method['summary']} |")
    lines += ["", "## Notifications", ""]
    for name, notification in schema["notifications"].items():
        lines.append(f"- `{name}`: params {_type_text(notification['params'])}")
    lines += ["", "## Shapes", ""]
    for name, shape in schema["definitions"].items():
        lines += _shape_section(name, shape)
    return "\n".join(lines).rstrip() + "\n"


def write(root: Path) -> None:
    """Rewrite both files under the repository ``root``."""
    (root / "docs" / "api").mkdir(parents=True, exist_ok=True)
    (root / "docs" / "api" / "schema.json").write_text(render_schema(), encoding="utf-8")
    (root / "docs" / "api.md").write_text(render_markdown(), encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
