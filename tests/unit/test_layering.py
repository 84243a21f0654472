"""Dependencies run one way, down the layers, and protocol layers stay sans-I/O.

``LAYERS`` lists Veil's packages from the bottom up (DESIGN.md section 3,
invariant 8). A module may import its own package and the packages of lower
layers; never a package of its own layer (siblings such as the relay server and
the relay client stay apart) nor of a higher one. Every package under
``src/veil`` must be placed in ``LAYERS``, so a new one cannot slip past.

The pure modules never import what does I/O or reads the clock or global
randomness (STYLE.md habit 1, DESIGN.md invariant 5): whole packages listed in
``PURE_PACKAGES``, and in the mixed packages each pure module by name; the rest
(servers, clients, CLIs, stores, runtimes) are the I/O edges.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("veil.errors",),
    ("veil.crypto", "veil.wire"),
    ("veil.ratchet", "veil.mls", "veil.files"),
    ("veil.relay.protocol",),
    ("veil.relay.transport",),
    ("veil.relay.server", "veil.relay.client"),
    ("veil.routing",),
    ("veil.agent",),
    ("veil.chat",),
    ("veil.service",),
    ("veil.tui", "veil.web"),
    ("veil.cli", "veil.relayd", "veil.bot"),
    ("veil.demo",),
)
"""Packages from the bottom layer up; the packages of one layer are siblings.

"""
UMBRELLAS = ("veil", "veil.relay")
"""Packages whose ``__init__`` only documents their subpackages: the bottom layer, so
any import added to one is an upward import."""


@dataclass(frozen=True, slots=True)
class UpwardImport:
    """``module`` imports ``imported``, which is not below it."""

    module: str
    imported: str

    def __str__(self) -> str:
        return f"{self.module} imports {self.imported}"


def package_of(module: str, layers: tuple[tuple[str, ...], ...] = LAYERS) -> tuple[int, str]:
    """The layer and the package ``module`` belongs to (its longest listed prefix)."""
    if module in UMBRELLAS:
        return 0, module
    owners = [
        (len(package), rank, package)
        for rank, packages in enumerate(layers)
        for package in packages
        if module == package or module.startswith(package + ".")
    ]
    if not owners:
        raise LookupError(f"{module} is in no package of LAYERS: place it in a layer")
    _, rank, package = max(owners)
    return rank, package


def module_name(path: Path, root: Path) -> str:
    """The dotted name of the module at ``path`` under the source root ``root``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def veil_imports(path: Path, module: str) -> set[str]:
    """Every ``veil`` module that ``path`` imports, anywhere in it (``TYPE_CHECKING`` too)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, is_package)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "veil" or name.startswith("veil.")}


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    parts = module.split(".")
    anchor = parts if is_package else parts[:-1]
    anchor = anchor[: len(anchor) - (node.level - 1)]
    return ".".join([*anchor, *([node.module] if node.module else [])])


def upward_imports(root: Path, layers: tuple[tuple[str, ...], ...] = LAYERS) -> list[UpwardImport]:
    """Every import under ``root`` (a source directory) that does not point down."""
    found = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        rank, package = package_of(module, layers)
        for imported in sorted(veil_imports(path, module)):
            try:
                imported_rank, imported_package = package_of(imported, layers)
            except LookupError:
                continue  # a name imported from a module (``from veil import x``)
            if imported_package != package and imported_rank >= rank:
                found.append(UpwardImport(module, imported))
    return found


def test_every_import_points_down_the_layers() -> None:
    assert [str(bad) for bad in upward_imports(SRC)] == []


def test_every_package_has_a_layer() -> None:
    for path in (SRC / "veil").rglob("*.py"):
        package_of(module_name(path, SRC))  # raises for an unplaced package


def _plant(root: Path, module: str, source: str) -> None:
    path = root / (module.replace(".", "/") + ".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("veil.relay.protocol.bad", "from veil.routing.codec import X\n", "veil.routing.codec"),
        (
            "veil.relay.server.bad",
            "import veil.relay.client.session\n",
            "veil.relay.client.session",
        ),
        ("veil.agent.bad", "if TYPE_CHECKING:\n    from veil.chat import app\n", "veil.chat"),
        ("veil.relay.client.bad", "from ...routing import codec\n", "veil.routing"),
    ],
    ids=["upward", "sibling", "type-checking-only", "relative"],
)
def test_checker_catches_a_planted_upward_import(
    tmp_path: Path, module: str, source: str, expected: str
) -> None:
    _plant(tmp_path, "veil.relay.protocol.fine", "from veil.wire import Reader\n")
    _plant(tmp_path, "veil.routing.fine", "from veil.relay.client.session import ClientSession\n")
    assert upward_imports(tmp_path) == []
    _plant(tmp_path, module, source)
    assert UpwardImport(module, expected) in upward_imports(tmp_path)


def test_checker_refuses_a_package_without_a_layer(tmp_path: Path) -> None:
    _plant(tmp_path, "veil.newcomer.module", "from veil.wire import Reader\n")
    with pytest.raises(LookupError, match=r"veil\.newcomer\.module is in no package"):
        upward_imports(tmp_path)


PURE_PACKAGES = ("crypto", "mls", "ratchet", "wire", "relay/protocol")
PURE_MODULES = {
    "relay/server": (
        "authorization",
        "core",
        "queue_index",
        "server_state",
        "session",
        "settings",
        "steps",
    ),
    "relay/client": ("events", "session"),
    "agent": (
        "address",
        "connection",
        "connections",
        "delivery",
        "duplicates",
        "effects",
        "envelope",
        "errors",
        "events",
        "frames",
        "invitations",
        "links",
        "payloads",
        "queues",
        "store",
    ),
    "routing": (
        "__init__",
        "codec",
        "config",
        "destination",
        "errors",
        "forward_crypto",
        "policy",
        "proxied_sender",
        "proxy_sessions",
    ),
    "chat": ("contacts", "errors", "event_log", "events", "profile", "text"),
    "service": ("api_file_types", "api_types", "catalog", "errors", "rpc", "schema"),
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
VEIL = SRC / "veil"


def pure_modules() -> list[Path]:
    found = [path for package in PURE_PACKAGES for path in (VEIL / package).rglob("*.py")]
    for package, names in PURE_MODULES.items():
        found += [VEIL / package / f"{name}.py" for name in names]
    return sorted(found)


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", pure_modules(), ids=lambda p: str(p.relative_to(VEIL)))
def test_pure_module_does_no_io(path: Path) -> None:
    relative = str(path.relative_to(VEIL))
    bad = {m for m in imported_roots(path) & FORBIDDEN if (relative, m) not in ALLOWED}
    assert not bad, f"{relative} imports {sorted(bad)}"
