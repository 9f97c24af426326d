"""Schemas outside the canonical dialect are refused when they load, with the reason."""

from __future__ import annotations

from typing import Any

import pytest

from bus.schema.compiler import Compiler
from bus.schema.dialect import DialectError, Object, Scalar

BASE = "https://telecom-esb.invalid/schemas/json/"
TEXT = {
    "type": "string",
    "pattern": "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\uD800-\\uDFFF\\uFFFE\\uFFFF]*$",
}


def compile_property(schema: dict[str, Any]) -> Any:
    documents = {
        BASE + "common.json": {"$defs": {"text": TEXT}},
        BASE + "messages/x.json": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"field": schema},
        },
    }
    compiler = Compiler(documents, lambda document, fragment: "T" + fragment.rsplit("/", 1)[-1])
    shape = compiler.compile_document(BASE + "messages/x.json", "X").shape
    assert isinstance(shape, Object)
    return shape.by_name["field"].slot


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        ({"type": "string"}, "free string must"),
        ({"type": "string", "maxLength": 5}, "free string must"),
        ({"type": "string", "pattern": "[0-9]+"}, "anchored"),
        ({"type": "string", "pattern": "^\\d+$"}, "non-portable"),
        ({"type": "string", "pattern": "^[^@]+$"}, "non-portable"),
        ({"type": "string", "pattern": "^a.b$"}, "non-portable"),
        ({"type": "string", "pattern": "^\\$[0-9]+$"}, "non-portable"),
        ({"type": "string", "pattern": "^[\t-~]+$"}, "XML cannot carry"),
        ({"type": "string", "format": "date-time", "const": "x"}, "const"),
        ({"type": "integer", "exclusiveMinimum": 0}, "exclusiveMinimum"),
        (
            {"type": "array", "items": {"$ref": "../common.json#/$defs/text"}, "uniqueItems": True},
            "uniqueItems",
        ),
        ({"type": "object", "properties": {}}, "additionalProperties"),
        (
            {
                "type": "object",
                "properties": {"camelCase": {"type": "boolean"}},
                "additionalProperties": False,
            },
            "snake_case",
        ),
        ({"type": "object", "additionalProperties": {"type": "boolean"}}, "free string"),
        ({"anyOf": [{"type": "boolean"}, {"type": "integer"}]}, "anyOf is only for"),
        ({"oneOf": [{"type": "boolean"}]}, "outside the dialect"),
        ({"type": ["string", "integer"]}, "type lists"),
        ({}, "empty or boolean schema"),
    ],
)
def test_schema_outside_the_dialect_is_refused(schema: dict[str, Any], reason: str) -> None:
    with pytest.raises(DialectError, match=reason):
        compile_property(schema)


def test_nullable_references_and_narrowed_text_are_in_the_dialect() -> None:
    slot = compile_property(
        {"anyOf": [{"$ref": "../common.json#/$defs/text", "maxLength": 9}, {"type": "null"}]}
    )
    assert slot.nullable
    assert isinstance(slot.shape, Scalar)
    assert slot.shape.effective_max_length == 9
    assert slot.shape.base is not None and slot.shape.base.name == "Ttext"
