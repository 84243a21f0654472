"""The bot SDK stands on the API client alone: it imports from the service only its
client, its shapes and its errors (never the chat layer or the server), and from
below that only the root of the error hierarchy its own errors derive from."""

from __future__ import annotations

from pathlib import Path

from unit.test_layering import SRC, module_name, veil_imports

BOT = SRC / "veil" / "bot"
ALLOWED = (
    "veil.service.client",
    "veil.service.api_types",
    "veil.service.api_file_types",
    "veil.service.api_group_types",
    "veil.service.errors",
    "veil.errors",
)


def foreign_imports(src: Path) -> dict[str, set[str]]:
    """For each module of ``veil.bot`` under the source root ``src``, the veil imports
    outside the bot that are not in :data:`ALLOWED` (nor names imported from one)."""
    found = {}
    for path in sorted((src / "veil" / "bot").rglob("*.py")):
        module = module_name(path, src)
        foreign = {
            name
            for name in veil_imports(path, module)
            if not any(name == ok or name.startswith(ok + ".") for ok in (*ALLOWED, "veil.bot"))
            and name not in {"veil", "veil.service"}
        }
        if foreign:
            found[module] = foreign
    return found


def test_the_bot_imports_only_the_api_client_its_shapes_and_errors() -> None:
    assert list(BOT.glob("*.py")), "no bot modules found"
    assert foreign_imports(SRC) == {}


def test_the_check_sees_a_planted_import_of_the_chat_layer(tmp_path: Path) -> None:
    (tmp_path / "veil" / "bot").mkdir(parents=True)
    (tmp_path / "veil" / "bot" / "fine.py").write_text(
        "from veil.bot.events import Event\nfrom veil.service import client\n"
    )
    planted = tmp_path / "veil" / "bot" / "planted.py"
    planted.write_text("from veil.service.methods import HANDLERS\nimport veil.chat.app\n")
    assert foreign_imports(tmp_path) == {
        "veil.bot.planted": {
            "veil.service.methods",
            "veil.service.methods.HANDLERS",
            "veil.chat.app",
        }
    }
