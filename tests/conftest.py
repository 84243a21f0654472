"""Shared pytest configuration for Veil's suite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

VECTORS = Path(__file__).parent / "vectors"

# CI machines are slow and shared: never fail a property test on its running time.
settings.register_profile(
    "veil", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("veil")


def load_vector(relative: str) -> Any:
    """Load a JSON known-answer vector file from ``tests/vectors``."""
    return json.loads((VECTORS / relative).read_text())


@pytest.fixture
def vectors() -> Any:
    """Give tests the :func:`load_vector` loader."""
    return load_vector
