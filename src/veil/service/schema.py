"""JSON Schema from the API's TypedDicts, and the parameter check built on the same walk.

:func:`api_schema` is the whole API as one JSON Schema document (checked in as
``docs/api/schema.json``); :func:`check_params` refuses parameters that do not
match a method's TypedDict with :class:`InvalidParams` naming the field.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, NotRequired, Union, get_args, get_origin, get_type_hints

from veil.service.api_types import API_VERSIONS, EventShape
from veil.service.catalog import EVENT_NOTIFICATION, METHODS
from veil.service.errors import InvalidParams, UnknownMethod
from veil.service.rpc import Request, parse_request

__all__ = ["api_schema", "check_call", "check_params", "parse_call", "type_schema"]

_SCALARS: dict[Any, str] = {str: "string", int: "integer", bool: "boolean", float: "number"}
#: Strings and lists in parameters are capped, like every other parser's input.
MAX_PARAM_TEXT = 64 * 1024
MAX_PARAM_ITEMS = 1000


def _is_typed_dict(tp: Any) -> bool:
    return isinstance(tp, type) and typing.is_typeddict(tp)


def _fields(tp: type) -> tuple[dict[str, Any], frozenset[str]]:
    hints = get_type_hints(tp)
    required: frozenset[str] = getattr(tp, "__required_keys__", frozenset())
    return hints, required


def _unwrap(tp: Any) -> Any:
    return get_args(tp)[0] if get_origin(tp) is NotRequired else tp


def type_schema(tp: Any, definitions: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of ``tp``; TypedDicts go to ``definitions`` and are referenced."""
    tp = _unwrap(tp)
    if tp is None or tp is type(None):
        return {"type": "null"}
    if tp in _SCALARS:
        return {"type": _SCALARS[tp]}
    origin = get_origin(tp)
    if origin is Literal:
        return {"enum": list(get_args(tp))}
    if origin in (Union, types.UnionType):
        return {"anyOf": [type_schema(arg, definitions) for arg in get_args(tp)]}
    if origin is list:
        return {"type": "array", "items": type_schema(get_args(tp)[0], definitions)}
    if _is_typed_dict(tp):
        if tp.__name__ not in definitions:
            definitions[tp.__name__] = {}  # placeholder: a shape may refer to itself
            hints, required = _fields(tp)
            definitions[tp.__name__] = {
                "type": "object",
                "description": (tp.__doc__ or tp.__name__).strip().splitlines()[0],
                "properties": {name: type_schema(h, definitions) for name, h in hints.items()},
                "required": sorted(required),
                "additionalProperties": False,
            }
        return {"$ref": f"#/definitions/{tp.__name__}"}
    raise TypeError(f"no JSON Schema for {tp!r}")


def api_schema() -> dict[str, Any]:
    """The whole API: versions, every method's params and result, and the event."""
    definitions: dict[str, Any] = {}
    methods = {
        name: {
            "summary": spec.summary,
            "params": type_schema(spec.params, definitions),
            "result": type_schema(spec.result, definitions),
        }
        for name, spec in METHODS.items()
    }
    notifications = {EVENT_NOTIFICATION: {"params": type_schema(EventShape, definitions)}}
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Veil service API (JSON-RPC 2.0)",
        "versions": {"min": API_VERSIONS[0], "max": API_VERSIONS[1]},
        "methods": methods,
        "notifications": notifications,
        "definitions": dict(sorted(definitions.items())),
    }


def parse_call(frame: bytes) -> Request:
    """Parse a request frame and check its parameters against its method's shape
    (:class:`UnknownMethod` for a method the API does not have)."""
    request = parse_request(frame)
    check_call(request)
    return request


def check_call(request: Request) -> None:
    """:class:`UnknownMethod` or :class:`InvalidParams` unless the API has the method
    and the parameters match its shape."""
    spec = METHODS.get(request.method)
    if spec is None:
        raise UnknownMethod(f"no method {request.method!r}: docs/api.md lists them")
    check_params(request.params, spec.params)


def check_params(params: dict[str, Any], tp: type) -> None:
    """Raise :class:`InvalidParams` unless ``params`` matches the TypedDict ``tp``."""
    _check(params, tp, "params")


def _check(value: Any, tp: Any, where: str) -> None:
    tp = _unwrap(tp)
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        if not any(_matches(value, arg, where) for arg in get_args(tp)):
            raise InvalidParams(f"{where} has the wrong type")
    elif tp is None or tp is type(None):
        _require(value is None, where, "null")
    elif tp in _SCALARS:
        _check_scalar(value, tp, where)
    elif origin is Literal:
        choices = get_args(tp)
        _require(value in choices, where, "one of " + ", ".join(map(str, choices)))
    elif origin is list:
        _require(isinstance(value, list) and len(value) <= MAX_PARAM_ITEMS, where, "a list")
        for index, item in enumerate(value):
            _check(item, get_args(tp)[0], f"{where}[{index}]")
    elif _is_typed_dict(tp):
        _check_object(value, tp, where)
    else:
        raise TypeError(f"cannot check {tp!r}")


def _check_scalar(value: Any, tp: type, where: str) -> None:
    if tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    else:
        ok = isinstance(value, tp) and (tp is bool or not isinstance(value, bool))
    _require(ok, where, _SCALARS[tp])
    if isinstance(value, str) and len(value) > MAX_PARAM_TEXT:
        raise InvalidParams(f"{where} is longer than {MAX_PARAM_TEXT} characters")


def _check_object(value: Any, tp: type, where: str) -> None:
    _require(isinstance(value, dict), where, "an object")
    hints, required = _fields(tp)
    unknown = set(value) - set(hints)
    if unknown:
        raise InvalidParams(f"{where} has unknown fields {sorted(unknown)}")
    missing = required - set(value)
    if missing:
        raise InvalidParams(f"{where} lacks {sorted(missing)}")
    for name, item in value.items():
        _check(item, hints[name], f"{where}.{name}")


def _matches(value: Any, tp: Any, where: str) -> bool:
    try:
        _check(value, tp, where)
    except InvalidParams:
        return False
    return True


def _require(ok: bool, where: str, expected: str) -> None:
    if not ok:
        raise InvalidParams(f"{where} must be {expected}")
