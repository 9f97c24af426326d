"""Hypothesis strategies derived from the schemas (through their dialect shapes).

A strategy draws only values the JSON Schema accepts: that is checked by the
tests with :mod:`jsonschema`, so a strategy that drifts from the schemas fails
loudly instead of testing less.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from hypothesis import strategies as st

from bus.schema.dialect import (
    XML_SAFE_PATTERN,
    AnyJson,
    Array,
    Object,
    Scalar,
    Shape,
    Slot,
    ecma_search,
)

# Every character XML 1.0 allows, weighted towards the awkward ones.
_FORBIDDEN = "".join(chr(c) for c in range(0x20) if chr(c) not in "\t\n\r") + "\ufffe\uffff"
XML_CHARS = st.characters(exclude_categories=["Cs"], exclude_characters=_FORBIDDEN)
AWKWARD = st.sampled_from(
    ["<", ">", "&", "'", '"', "]]>", "\r", "\r\n", "\t", " ", "\n", "é", "Ё", "😀"]
)
XML_TEXT = st.lists(st.one_of(XML_CHARS.map(str), AWKWARD), max_size=12).map("".join)
JSON_INT = st.integers(min_value=-(2**63), max_value=2**63 - 1)
JSON_FLOAT = st.floats(allow_nan=False, allow_infinity=False)

JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | JSON_INT | JSON_FLOAT | XML_TEXT,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(XML_TEXT, children, max_size=3)
    ),
    max_leaves=8,
)


def for_slot(slot: Slot) -> st.SearchStrategy[Any]:
    inner = for_shape(slot.shape)
    return st.one_of(st.none(), inner) if slot.nullable else inner


@functools.cache
def for_shape(shape: Shape) -> st.SearchStrategy[Any]:
    if isinstance(shape, Scalar):
        return _scalar(shape)
    if isinstance(shape, Array):
        return st.lists(
            for_slot(shape.items), min_size=shape.min_items, max_size=min(shape.max_items or 2, 2)
        )
    if isinstance(shape, Object):
        return _object(shape)
    assert isinstance(shape, AnyJson)
    return JSON_VALUES


def _scalar(shape: Scalar) -> st.SearchStrategy[Any]:
    if shape.kind == "boolean":
        return st.booleans()
    low, high = shape.effective_minimum, shape.effective_maximum
    if shape.kind == "integer":
        return st.integers(
            min_value=int(low) if low is not None else -(2**63),
            max_value=int(high) if high is not None else 2**63 - 1,
        )
    if shape.kind == "number":
        return st.one_of(
            st.integers(
                min_value=int(low) if low is not None else -(2**53),
                max_value=int(high) if high is not None else 2**53,
            ),
            st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False),
        )
    enum = shape.effective_enum
    if enum is not None:
        return st.sampled_from(enum)
    specific = [p for p in shape.patterns if p != XML_SAFE_PATTERN]
    searches = [ecma_search(p) for p in shape.patterns]
    min_size, max_size = shape.effective_min_length or 0, shape.effective_max_length
    if specific:
        base: st.SearchStrategy[str] = st.from_regex(_short(specific[0][1:-1]), fullmatch=True)
    else:
        base = XML_TEXT

    def allowed(value: str) -> bool:
        if len(value) < min_size or (max_size is not None and len(value) > max_size):
            return False
        return all(search(value) is not None for search in searches)

    return base.filter(allowed)


def _short(pattern: str) -> str:
    """The pattern with long repetitions capped ({0,127} -> {0,6}), for faster generation.

    Every string the capped pattern matches, the original matches too (a sub-language);
    long values are covered by the explicit length cases in the tests.
    """
    return re.sub(
        r"\{([0-9]+),([0-9]+)\}", lambda m: f"{{{m[1]},{min(int(m[2]), int(m[1]) + 6)}}}", pattern
    )


def _object(shape: Object) -> st.SearchStrategy[dict[str, Any]]:
    if shape.is_map:
        assert shape.additional is not None and shape.key is not None
        return st.dictionaries(_scalar(shape.key), for_slot(shape.additional), max_size=3)
    in_choice = {name for group in shape.choices for name in group}
    required = {
        p.name: for_slot(p.slot) for p in shape.properties if p.required and p.name not in in_choice
    }
    optional = {
        p.name: for_slot(p.slot)
        for p in shape.properties
        if not p.required and p.name not in in_choice
    }
    parts: list[st.SearchStrategy[dict[str, Any]]] = [
        st.fixed_dictionaries(required, optional=optional)
    ]
    for group in shape.choices:
        parts.append(
            st.one_of(
                *(
                    st.fixed_dictionaries({name: for_slot(shape.by_name[name].slot)})
                    for name in group
                )
            )
        )
    if shape.is_open:
        declared = set(shape.by_name)
        keys = _scalar(shape.key) if shape.key is not None else XML_TEXT
        parts.append(
            st.dictionaries(keys.filter(lambda k: k not in declared), JSON_VALUES, max_size=3)
        )
    return st.tuples(*parts).map(_merge)


def _merge(parts: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in parts:
        out.update(part)
    return out


def same(a: Any, b: Any) -> bool:
    """Equal JSON values with equal types (True is not 1, 1 is not 1.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)
