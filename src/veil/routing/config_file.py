"""Where the routing policy is kept: a small TOML file, written atomically.

:class:`PolicyStore` is what the ``relays`` and ``operators`` commands need;
:class:`TomlPolicyFile` is the plain-file implementation (the client may keep the
same mapping inside its encrypted database instead).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Protocol

import tomli_w

from veil.routing.config import policy_from_dict, policy_to_dict
from veil.routing.errors import InvalidRoutingConfig
from veil.routing.policy import RoutingPolicy

__all__ = ["PolicyStore", "TomlPolicyFile"]

_FILE_MODE = 0o600


class PolicyStore(Protocol):
    """Loads and saves one user's routing policy."""

    def load(self) -> RoutingPolicy:
        """The stored policy, or the default policy if none was saved yet."""
        ...

    def save(self, policy: RoutingPolicy) -> None:
        """Persist ``policy`` so that a crash leaves either the old or the new one."""
        ...


class TomlPolicyFile:
    """A :class:`PolicyStore` in one TOML file (mode 0600: it lists the user's relays)."""

    __slots__ = ("path",)

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> RoutingPolicy:
        """Read the file; a missing file is the default policy."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return RoutingPolicy()
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidRoutingConfig(f"{self.path} is not valid TOML: {exc}") from exc
        return policy_from_dict(data)

    def save(self, policy: RoutingPolicy) -> None:
        """Write to a temporary file, sync it, then rename it over the old one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _FILE_MODE)
        with os.fdopen(descriptor, "wb") as file:
            file.write(tomli_w.dumps(policy_to_dict(policy)).encode("utf-8"))
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(self.path)
