"""Veil's own X-Wing vectors (tests/vectors/mls, IETF format) pass the IETF checkers."""

from __future__ import annotations

import pytest

from helpers.mls_vectors import VEIL_VECTORS_DIR, Case, cases, import_all_checkers, vector_files

CHECKERS = import_all_checkers()
FILES = vector_files(VEIL_VECTORS_DIR)


def test_every_veil_vector_file_is_x_wing_and_has_a_checker() -> None:
    assert len(FILES) >= 7
    for file_name in FILES:
        assert file_name in CHECKERS
        assert {case["cipher_suite"] for case in cases(file_name, VEIL_VECTORS_DIR)} == {0xF00D}


@pytest.mark.parametrize(
    ("file_name", "case"),
    [(f, c) for f in FILES for c in cases(f, VEIL_VECTORS_DIR)],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_veil_vector(file_name: str, case: Case) -> None:
    CHECKERS[file_name](case)
