"""The canonical schema dialect: the subset of JSON Schema our schemas use, as a small tree.

Every consumer of the schemas other than the reference validator works on this
tree (a *shape*, made by :mod:`bus.schema.compiler`), never on raw JSON Schema:
the XML codec, the XSD generator, the fast validity check and the test data
generator. Keeping the subset small
and explicit is what makes the XML mapping provably lossless: a keyword the
dialect does not know is an error when the schemas load, not a silent gap.

The subset::

    scalar  {"type": "string" | "integer" | "number" | "boolean", enum, pattern,
             minLength, maxLength, minimum, maximum, format (annotation only)}
    array   {"type": "array", "items": S, minItems, maxItems}
    record  {"type": "object", "properties": {...}, "required": [...],
             "additionalProperties": false, "oneOf": [{"required": ["a"]}, ...]}
    map     {"type": "object", "propertyNames": K, "additionalProperties": <scalar>}
    open    {"type": "object", "properties": {...}, "propertyNames": K,
             "additionalProperties": {"$ref": "common.json#/$defs/json_value"}}
    ref     {"$ref": R} optionally narrowed: scalar facets, or "required" on a record
    null    {"anyOf": [S, {"type": "null"}]} or {"type": [T, "null"]}

A ``oneOf`` of single-``required`` branches is a *choice*: exactly one of those
properties is present (XSD ``xs:choice``). Patterns must be anchored (``^...$``)
and avoid ``\\d``, ``\\w``, ``\\s`` and ``.``, whose meaning differs between
ECMA 262, Python and XSD regular expressions.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "ANY_JSON",
    "JSON_VALUE_DEF",
    "XML_SAFE_PATTERN",
    "AnyJson",
    "Array",
    "DialectError",
    "Object",
    "Property",
    "Scalar",
    "Shape",
    "Slot",
    "ecma_search",
]

XML_SAFE_PATTERN = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\uD800-\\uDFFF\\uFFFE\\uFFFF]*$"
"""The pattern of ``common.json#/$defs/text``: exactly the characters XML 1.0 allows."""

JSON_VALUE_DEF = "common.json#/$defs/json_value"
"""The definition that stands for "any JSON value" (an :data:`ANY_JSON` shape)."""

ScalarKind = Literal["string", "integer", "number", "boolean"]
Number = int | float


class DialectError(ValueError):
    """A schema uses JSON Schema outside the canonical dialect."""


@dataclass(frozen=True, eq=False, slots=True)
class Scalar:
    kind: ScalarKind
    name: str | None = None
    base: Scalar | None = None
    enum: tuple[str, ...] | None = None
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    minimum: Number | None = None
    maximum: Number | None = None

    def chain(self) -> tuple[Scalar, ...]:
        """This scalar and the named scalars it restricts, nearest first."""
        out: list[Scalar] = []
        node: Scalar | None = self
        while node is not None:
            out.append(node)
            node = node.base
        return tuple(out)

    @property
    def patterns(self) -> tuple[str, ...]:
        return tuple(s.pattern for s in self.chain() if s.pattern is not None)

    @property
    def effective_enum(self) -> tuple[str, ...] | None:
        return next((s.enum for s in self.chain() if s.enum is not None), None)

    @property
    def effective_min_length(self) -> int | None:
        values = [s.min_length for s in self.chain() if s.min_length is not None]
        return max(values) if values else None

    @property
    def effective_max_length(self) -> int | None:
        values = [s.max_length for s in self.chain() if s.max_length is not None]
        return min(values) if values else None

    @property
    def effective_minimum(self) -> Number | None:
        values = [s.minimum for s in self.chain() if s.minimum is not None]
        return max(values) if values else None

    @property
    def effective_maximum(self) -> Number | None:
        values = [s.maximum for s in self.chain() if s.maximum is not None]
        return min(values) if values else None


@dataclass(frozen=True, eq=False, slots=True)
class AnyJson:
    """Any JSON value whose strings and keys are XML-safe (``json_value``)."""

    name: None = None


ANY_JSON = AnyJson()


@dataclass(frozen=True, eq=False, slots=True)
class Slot:
    """A place a value sits (a property, an array item, a map value): shape and nullability."""

    shape: Shape
    nullable: bool = False


@dataclass(frozen=True, eq=False, slots=True)
class Array:
    items: Slot
    min_items: int = 0
    max_items: int | None = None
    name: str | None = None


@dataclass(frozen=True, eq=False, slots=True)
class Property:
    name: str
    slot: Slot
    required: bool


@dataclass(frozen=True, eq=False, slots=True)
class Object:
    properties: tuple[Property, ...] = ()
    choices: tuple[tuple[str, ...], ...] = ()
    additional: Slot | None = None
    key: Scalar | None = None
    name: str | None = None
    by_name: Mapping[str, Property] = field(default_factory=dict)

    @property
    def is_map(self) -> bool:
        """Keys are data (``<entry key=...>``), values all of one scalar shape."""
        return self.additional is not None and not isinstance(self.additional.shape, AnyJson)

    @property
    def is_open(self) -> bool:
        """Declared properties plus any other keys holding any JSON value."""
        return self.additional is not None and isinstance(self.additional.shape, AnyJson)


Shape = Scalar | Array | Object | AnyJson


@functools.lru_cache(maxsize=512)
def ecma_search(pattern: str) -> Callable[[str], re.Match[str] | None]:
    """``re.search`` with ECMA 262's ``$``: at the end only, never before a final newline."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern).search
