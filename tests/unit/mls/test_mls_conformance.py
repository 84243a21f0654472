"""The IETF conformance table: every vector file x cipher suite -> cases passed / total.

Every registered checker runs over every case of its file. A case is skipped only when
its suite is not implemented, and the skips are counted. Cases of files without a
checker yet count in the total but not as passed ("not checked"). The table is
printed (``pytest -s``) and written as JSON under the test's temporary directory; the
test fails if any implemented case fails. Rows named ``veil/...`` are Veil's own
X-Wing vectors (``tests/vectors/mls``), in the same format.
"""

from __future__ import annotations

import json
import traceback
from collections import defaultdict
from pathlib import Path

import pytest

from helpers.mls_vectors import (
    VECTORS_DIR,
    VEIL_VECTORS_DIR,
    cases,
    import_all_checkers,
    suite_of,
    vector_files,
)
from veil.mls.suites import SUITES

Row = dict[str, int]
_UNIMPLEMENTED = "skipped: suites Veil does not implement"


def _run_file(file_name: str, directory: Path) -> tuple[dict[str, Row], list[str]]:
    checkers = import_all_checkers()
    rows: dict[str, Row] = defaultdict(lambda: {"passed": 0, "failed": 0, "unchecked": 0})
    failures: list[str] = []
    for index, case in enumerate(cases(file_name, directory)):
        suite = suite_of(case)
        if suite is not None and suite not in SUITES:
            rows[_UNIMPLEMENTED]["unchecked"] += 1
            continue
        row = rows["-" if suite is None else f"{suite:#06x}"]
        if file_name not in checkers:
            row["unchecked"] += 1
        else:
            try:
                checkers[file_name](case)
                row["passed"] += 1
            except Exception:  # the table records every failure, whatever it was
                row["failed"] += 1
                failures.append(f"{file_name}[{index}]: {traceback.format_exc(limit=2)}")
    return dict(rows), failures


def _format(table: dict[str, dict[str, Row]]) -> str:
    lines = [f"{'file':36} {'suite':7} {'passed/total':>13}  not checked"]
    for file_name, rows in table.items():
        for suite, row in sorted(rows.items()):
            if suite == _UNIMPLEMENTED:
                lines.append(f"{file_name:36} {'other':7} {'':>13}  {row['unchecked']} ({suite})")
                continue
            total = row["passed"] + row["failed"] + row["unchecked"]
            lines.append(
                f"{file_name:36} {suite:7} {row['passed']:>6}/{total:<6}  {row['unchecked'] or ''}"
            )
    return "\n".join(lines)


def test_conformance_table(tmp_path_factory: pytest.TempPathFactory) -> None:
    files = vector_files()
    if not files:
        pytest.skip("IETF MLS vectors not found (expected ../shared/vectors/mls)")
    table: dict[str, dict[str, Row]] = {}
    failures: list[str] = []
    sources = [
        ("", VECTORS_DIR, files),
        ("veil/", VEIL_VECTORS_DIR, vector_files(VEIL_VECTORS_DIR)),
    ]
    for prefix, directory, names in sources:
        for file_name in names:
            table[prefix + file_name], file_failures = _run_file(file_name, directory)
            failures += file_failures
    out: Path = tmp_path_factory.mktemp("mls-conformance") / "conformance.json"
    out.write_text(json.dumps(table, indent=1, sort_keys=True))
    print(f"\nMLS conformance (written to {out}):\n{_format(table)}")
    assert not failures, "\n".join(failures[:5])
