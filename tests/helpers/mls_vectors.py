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
CHECKER_MODULES = (
    "helpers.mls_checks_crypto",
    "helpers.mls_checks_tree",
    "helpers.mls_checks_schedule",
    "helpers.mls_checks_messages",
    "helpers.mls_checks_framing",
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
def _load(file_name: str) -> tuple[Case, ...]:
    data = json.loads((VECTORS_DIR / file_name).read_text())
    return tuple(data) if isinstance(data, list) else (data,)


def vector_files() -> list[str]:
    """The names of the vector files present (empty if the folder is absent)."""
    return sorted(p.name for p in VECTORS_DIR.glob("*.json")) if VECTORS_DIR.is_dir() else []


def cases(file_name: str) -> tuple[Case, ...]:
    """Every case of a vector file; the test skips, saying why, if the file is absent."""
    if not (VECTORS_DIR / file_name).is_file():
        pytest.skip(f"IETF MLS vectors not found at {VECTORS_DIR} (shared/ beside the checkout)")
    return _load(file_name)


def suite_of(case: Case) -> int | None:
    """The cipher suite a case is for, or None for suite-independent files."""
    suite = case.get("cipher_suite")
    return int(suite) if suite is not None else None


def implemented_cases(file_name: str) -> list[Case]:
    """The cases whose suite Veil implements (pytest ids follow the list order)."""
    return [c for c in cases(file_name) if suite_of(c) in (None, *SUITES)]


def hexb(value: str) -> bytes:
    """Decode one hex field of a vector."""
    return bytes.fromhex(value)
