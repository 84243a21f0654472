"""The checked-in schema and reference page are exactly what the code generates, and
the schema is valid JSON Schema that accepts the shapes the code produces."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from veil.service.api_docs import render_markdown, render_schema
from veil.service.catalog import METHODS
from veil.service.schema import api_schema

ROOT = Path(__file__).resolve().parents[3]


def test_schema_json_is_in_step_with_the_code() -> None:
    checked_in = (ROOT / "docs" / "api" / "schema.json").read_text(encoding="utf-8")
    assert checked_in == render_schema(), "run `python -m veil.service.api_docs`"


def test_api_md_is_in_step_with_the_schema() -> None:
    checked_in = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert checked_in == render_markdown(), "run `python -m veil.service.api_docs`"


def test_the_schema_is_valid_and_names_every_method() -> None:
    schema = api_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    assert set(schema["methods"]) == set(METHODS)
    assert json.loads(render_schema()) == schema


def test_the_schema_rejects_a_shape_with_a_wrong_field() -> None:
    schema = api_schema()
    sent = {**schema["methods"]["send"]["result"], "definitions": schema["definitions"]}
    jsonschema.validate({"sent": [1, 2], "pending": 0}, sent)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"sent": ["1"], "pending": 0}, sent)
