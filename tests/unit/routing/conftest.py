"""Fixtures of the routing unit tests."""

from __future__ import annotations

import pytest

from helpers.routing_harness import Hop, make_hop


@pytest.fixture
def hop() -> Hop:
    """A fresh in-memory client -> proxy -> destination path for one test."""
    return make_hop()
