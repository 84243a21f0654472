"""The IETF MLS test vectors (mlswg/mls-implementations, see their README) and a registry
of checkers, one per vector file, shared by the per-file tests and the conformance table.

A checker takes one case (a JSON object) and raises if Veil disagrees with it. Modules
that define checkers register them with :func:`checker` and are listed in
``CHECKER_MODULES`` so the conformance table imports every one of them.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from veil.mls.suites import SUITES

VECTORS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "mls"
VEIL_VECTORS_DIR = Path(__file__).resolve().parents[1] / "vectors" / "mls"
"""Veil's own X-Wing vectors in the IETF format (made by their ``generate.py``)."""
CHECKER_MODULES = (
    "helpers.mls_checks_crypto",
    "helpers.mls_checks_tree",
    "helpers.mls_checks_schedule",
    "helpers.mls_checks_messages",
    "helpers.mls_checks_framing",
    "helpers.mls_checks_group",
)

Case = dict[str, Any]
Checker = Callable[[Case], None]
CHECKERS: dict[str, Checker] = {}


def checker(file_name: str) -> Callable[[Checker], Checker]:
    """Register the function as the checker of every case in ``file_name``."""

    def register(function: Checker) -> Checker:
        CHECKERS[file_name] = function
        return function

    return register


def import_all_checkers() -> dict[str, Checker]:
    """Import every checker module; return the registry."""
    for module in CHECKER_MODULES:
        importlib.import_module(module)
    return CHECKERS


@cache
def _load(path: Path) -> tuple[Case, ...]:
    data = json.loads(path.read_text())
    return tuple(data) if isinstance(data, list) else (data,)


def vector_files(directory: Path = VECTORS_DIR) -> list[str]:
    """The names of the vector files present (empty if the folder is absent)."""
    return sorted(p.name for p in directory.glob("*.json")) if directory.is_dir() else []


def cases(file_name: str, directory: Path = VECTORS_DIR) -> tuple[Case, ...]:
    """Every case of a vector file; the test skips, saying why, if the file is absent."""
    if not (directory / file_name).is_file():
        pytest.skip(
            f"MLS vectors not found at {directory} (IETF ones: shared/ beside the checkout)"
        )
    return _load(directory / file_name)


def suite_of(case: Case) -> int | None:
    """The cipher suite a case is for, or None for suite-independent files."""
    suite = case.get("cipher_suite")
    return int(suite) if suite is not None else None


def implemented_cases(file_name: str, directory: Path = VECTORS_DIR) -> list[Case]:
    """The cases whose suite Veil implements (pytest ids follow the list order)."""
    return [c for c in cases(file_name, directory) if suite_of(c) in (None, *SUITES)]


def hexb(value: str) -> bytes:
    """Decode one hex field of a vector."""
    return bytes.fromhex(value)
