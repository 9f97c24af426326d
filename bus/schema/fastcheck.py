"""A compiled yes/no check of a payload against its shape: the fast path of ``validate``.

Each shape becomes a tree of closures, so a valid payload costs a few dict
lookups, ``isinstance`` calls and compiled-regex searches. The check only says
*whether* a payload is valid; :mod:`jsonschema` (the reference) explains *why
not*. Tests check both agree on generated valid and invalid payloads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bus.schema.dialect import (
    XML_SAFE_PATTERN,
    AnyJson,
    Array,
    Object,
    Scalar,
    Slot,
    ecma_search,
)

__all__ = ["Check", "compile_check"]

Check = Callable[[Any], bool]


def compile_check(slot: Slot) -> Check:
    inner = _shape(slot.shape)
    if not slot.nullable:
        return inner

    def nullable(value: Any) -> bool:
        return value is None or inner(value)

    return nullable


def _shape(shape: Scalar | Array | Object | AnyJson) -> Check:
    if isinstance(shape, Scalar):
        return _scalar(shape)
    if isinstance(shape, Array):
        return _array(shape)
    if isinstance(shape, Object):
        return _object(shape)
    return _any_json


def _scalar(shape: Scalar) -> Check:
    if shape.kind == "boolean":
        return _is_bool
    if shape.kind in ("integer", "number"):
        return _number(shape)
    searches = tuple(ecma_search(p) for p in shape.patterns)
    enum = frozenset(shape.effective_enum) if shape.effective_enum is not None else None
    low, high = shape.effective_min_length or 0, shape.effective_max_length
    if enum is not None and not searches and not low and high is None:

        def member(value: Any) -> bool:
            return isinstance(value, str) and value in enum

        return member
    if enum is None and not low and high is None and len(searches) == 1:
        search = searches[0]

        def patterned(value: Any) -> bool:
            return isinstance(value, str) and search(value) is not None

        return patterned
    if enum is None and len(searches) == 1:
        search, most = searches[0], high if high is not None else float("inf")

        def bounded(value: Any) -> bool:
            return (
                isinstance(value, str) and low <= len(value) <= most and search(value) is not None
            )

        return bounded

    def string(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        if enum is not None and value not in enum:
            return False
        if len(value) < low or (high is not None and len(value) > high):
            return False
        return all(search(value) is not None for search in searches)

    return string


def _number(shape: Scalar) -> Check:
    low, high = shape.effective_minimum, shape.effective_maximum
    integral = shape.kind == "integer"

    def number(value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int if integral else (int, float)):
            return False
        return (low is None or value >= low) and (high is None or value <= high)

    return number


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _array(shape: Array) -> Check:
    item = compile_check(shape.items)
    low, high = shape.min_items, shape.max_items

    def array(value: Any) -> bool:
        if not isinstance(value, list) or len(value) < low:
            return False
        if high is not None and len(value) > high:
            return False
        return all(item(v) for v in value)

    return array


def _object(shape: Object) -> Check:
    # name -> (check of the value, whether null is allowed): no extra call for nullable fields
    fields = {p.name: (_shape(p.slot.shape), p.slot.nullable) for p in shape.properties}
    required = frozenset(p.name for p in shape.properties if p.required)
    choices = shape.choices
    extra = compile_check(shape.additional) if shape.additional is not None else None
    key = _scalar(shape.key) if shape.key is not None else _is_str

    def record(value: Any) -> bool:
        if not isinstance(value, dict) or not required <= value.keys():
            return False
        for group in choices:
            if sum(1 for name in group if name in value) != 1:
                return False
        for name, item in value.items():
            field = fields.get(name)
            if field is not None:
                if not ((item is None and field[1]) or field[0](item)):
                    return False
            elif extra is None or not (key(name) and extra(item)):
                return False
        return True

    return record


_xml_safe = ecma_search(XML_SAFE_PATTERN)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _any_json(value: Any) -> bool:
    if isinstance(value, str):
        return _xml_safe(value) is not None
    if value is None or isinstance(value, bool | int | float):
        return True
    if isinstance(value, list):
        return all(_any_json(v) for v in value)
    if isinstance(value, dict):
        return all(
            isinstance(k, str) and _xml_safe(k) is not None and _any_json(v)
            for k, v in value.items()
        )
    return False
