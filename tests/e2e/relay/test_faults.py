"""The fault harness (bench/faults.py) at CI size: 0 lost, 0 duplicated, no garbage.

The harness runs as its own process, exactly as an operator would run it; full size
(1,000 cycles, a 1-hour soak) is for release checks outside CI.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

FAULTS = Path(__file__).resolve().parents[3] / "bench" / "faults.py"
#: The soak's RSS may wobble with allocator noise, never grow with the traffic.
RSS_GROWTH_ALLOWED = 1.25


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, str(FAULTS), "--small"],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def _assert_exact(figures: dict[str, Any]) -> None:
    assert figures["lost"] == 0, figures
    assert figures["duplicates_after_ack"] == 0, figures
    assert figures["garbage"] == 0, figures
    assert figures["acknowledged_sends"] > 0, figures


def test_relay_kill_cycles_lose_and_duplicate_nothing(report: dict[str, Any]) -> None:
    figures = report["relay_kill"]
    assert figures["cycles"] == 20
    _assert_exact(figures)


def test_client_kill_cycles_process_each_message_once_in_order(report: dict[str, Any]) -> None:
    figures = report["client_kill"]
    assert figures["cycles"] == 20 and figures["sent"] > 0
    assert figures["lost"] == 0 and figures["processed_twice"] == 0, figures
    assert figures["in_order"], figures


def test_full_disk_gives_explicit_errors_and_recovers(report: dict[str, Any]) -> None:
    figures = report["full_disk"]
    if "skipped" in figures:
        pytest.skip(figures["skipped"])
    _assert_exact(figures)
    assert figures["explicit_errors_when_full"], "a full disk must refuse sends explicitly"
    assert figures["recovered_after_space_freed"]


def test_torn_store_is_detected_and_never_serves_garbage(report: dict[str, Any]) -> None:
    assert set(report["torn_store"]) == {"truncate_journal_tail", "flip_journal_tail"}
    for damage, outcome in report["torn_store"].items():
        assert outcome["garbage"] == 0, damage
        # Damage to acknowledged records may lose them, but never silently.
        assert outcome["detected"] or outcome["lost"] == 0, (damage, outcome)
    assert report["torn_store"]["flip_journal_tail"]["detected"]


def test_soak_is_exact_and_memory_is_flat(report: dict[str, Any]) -> None:
    figures = report["soak"]
    _assert_exact(figures)
    assert (
        figures["rss_kib_last_quarter_mean"]
        <= figures["rss_kib_first_quarter_mean"] * RSS_GROWTH_ALLOWED
    ), figures
