"""The atheris harness in fuzz/parsers.py stays runnable: every target parses, and
random input only ever produces Veil's own errors (hypothesis stands in for atheris)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from hypothesis import given
from hypothesis import strategies as st

HARNESS = Path(__file__).resolve().parents[2] / "fuzz" / "parsers.py"


def _load_harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("veil_fuzz_parsers", HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


harness = _load_harness()
PARSERS = harness.targets()
ONE_INPUT = harness.make_one_input(PARSERS)


def test_every_target_is_distinct_and_named() -> None:
    names = [name for name, _ in PARSERS]
    assert len(names) == len(set(names)) >= 15


@given(st.integers(min_value=0, max_value=255), st.binary(max_size=2048))
def test_random_input_to_any_target_raises_only_veil_errors(selector: int, data: bytes) -> None:
    ONE_INPUT(bytes([selector]) + data)
