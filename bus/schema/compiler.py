"""JSON Schema documents -> dialect shapes (see :mod:`bus.schema.dialect` for the subset)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urldefrag, urljoin

from bus.schema.dialect import (
    ANY_JSON,
    JSON_VALUE_DEF,
    XML_SAFE_PATTERN,
    AnyJson,
    Array,
    DialectError,
    Object,
    Property,
    Scalar,
    Shape,
    Slot,
)

__all__ = ["Compiler"]

_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "$defs",
        "title",
        "description",
        "examples",
        "default",
        "format",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)
_STRING_FACETS = frozenset({"enum", "pattern", "minLength", "maxLength"})
_NUMBER_FACETS = frozenset({"minimum", "maximum"})
_PROPERTY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PORTABLE_ESCAPES = frozenset("+-.()[]{}*?|^\\")  # escapes that XSD 1.0 knows too
_BARE_DOT = re.compile(r"(?<!\\)\.(?![^\[]*\])")


class Compiler:
    """Turns JSON Schema documents into shapes, naming the shapes that ``$ref`` targets.

    ``documents`` maps a document URI to its contents; ``namer`` gives the XSD
    type name of a ``$ref`` target (document URI plus fragment), or None.
    """

    def __init__(
        self, documents: Mapping[str, Any], namer: Callable[[str, str], str | None]
    ) -> None:
        self._documents = documents
        self._namer = namer
        self._named: dict[str, Shape] = {}
        self._json_value_suffix = "/" + JSON_VALUE_DEF
        self.origins: dict[str, str] = {}
        """Type name -> the document that defines it (where the XSD puts the type)."""
        self.descriptions: dict[str, str] = {}
        """Type name -> its JSON Schema description (documentation in the XSD)."""

    def compile_document(self, uri: str, name: str | None = None) -> Slot:
        """The shape of a whole document (an entity or a message schema)."""
        if name is not None:
            self.origins.setdefault(name, uri)
            if "description" in self._documents[uri]:
                self.descriptions.setdefault(name, self._documents[uri]["description"])
        return self._slot(self._documents[uri], uri, name)

    def named(self, uri: str) -> Shape:
        """The shape a ``$ref`` to ``uri`` (absolute, maybe with a fragment) denotes."""
        if uri.endswith(self._json_value_suffix):
            return ANY_JSON
        if uri not in self._named:
            document, fragment = urldefrag(uri)
            schema = self._pointer(document, fragment)
            name = self._namer(document, fragment)
            if name is not None:
                if self.origins.setdefault(name, document) != document:
                    raise DialectError(f"{uri}: type name {name} is already taken")
                if "description" in schema:
                    self.descriptions[name] = schema["description"]
            slot = self._slot(schema, document, name)
            if slot.nullable:
                raise DialectError(f"{uri}: a named definition may not be nullable")
            self._named[uri] = slot.shape
        return self._named[uri]

    def _pointer(self, document: str, fragment: str) -> Any:
        if document not in self._documents:
            raise DialectError(f"$ref to unknown schema document {document}")
        node = self._documents[document]
        if fragment and not fragment.startswith("/"):
            raise DialectError(f"{document}#{fragment}: only JSON-pointer fragments are allowed")
        for part in filter(None, fragment.split("/")):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def _slot(self, schema: Any, base: str, name: str | None) -> Slot:
        if not isinstance(schema, dict) or not schema:
            raise DialectError(f"{base}: an empty or boolean schema is not in the dialect")
        keys = set(schema) - _ANNOTATIONS
        if "anyOf" in keys:
            return self._nullable(schema, keys, base, name)
        if "$ref" in keys:
            return Slot(self._ref(schema, keys, base, name))
        kind = schema.get("type")
        nullable = False
        if isinstance(kind, list):
            if len(kind) != 2 or "null" not in kind:
                raise DialectError(f"{base}: type lists must be [T, 'null'], got {kind}")
            kind = next(k for k in kind if k != "null")
            nullable = True
        if kind == "object":
            return Slot(self._object(schema, keys, base, name), nullable)
        if kind == "array":
            return Slot(self._array(schema, keys, base, name), nullable)
        if kind in ("string", "integer", "number", "boolean"):
            return Slot(self._scalar(kind, schema, keys - {"type"}, base, name), nullable)
        if kind is None:
            raise DialectError(
                f"{base}: {sorted(keys)} is outside the dialect (needs type, $ref or anyOf)"
            )
        raise DialectError(f"{base}: unsupported type {kind!r}")

    def _nullable(
        self, schema: dict[str, Any], keys: set[str], base: str, name: str | None
    ) -> Slot:
        branches = schema["anyOf"]
        nulls = [b for b in branches if b == {"type": "null"}]
        if keys != {"anyOf"} or len(branches) != 2 or len(nulls) != 1:
            raise DialectError(f"{base}: anyOf is only for [S, {{'type': 'null'}}]")
        inner = self._slot(next(b for b in branches if b != {"type": "null"}), base, name)
        return Slot(inner.shape, nullable=True)

    def _ref(self, schema: dict[str, Any], keys: set[str], base: str, name: str | None) -> Shape:
        target = self.named(urljoin(base, schema["$ref"]))
        narrowing = keys - {"$ref"}
        if not narrowing:
            return target
        if isinstance(target, Scalar) and narrowing <= _STRING_FACETS | _NUMBER_FACETS:
            return self._scalar(target.kind, schema, narrowing, base, name, base_shape=target)
        if isinstance(target, Object) and narrowing == {"required"}:
            required = set(schema["required"]) | {p.name for p in target.properties if p.required}
            unknown = set(schema["required"]) - set(target.by_name)
            if unknown:
                raise DialectError(f"{base}: required names unknown properties {sorted(unknown)}")
            props = tuple(Property(p.name, p.slot, p.name in required) for p in target.properties)
            return Object(
                props,
                target.choices,
                target.additional,
                target.key,
                name,
                {p.name: p for p in props},
            )
        raise DialectError(f"{base}: $ref may only be narrowed by facets or 'required'")

    def _scalar(
        self,
        kind: str,
        schema: dict[str, Any],
        keys: set[str],
        base: str,
        name: str | None,
        base_shape: Scalar | None = None,
    ) -> Scalar:
        allowed = _STRING_FACETS if kind == "string" else _NUMBER_FACETS
        if kind == "boolean":
            allowed = frozenset()
        if keys - allowed:
            raise DialectError(f"{base}: {sorted(keys - allowed)} not allowed on a {kind}")
        enum = schema.get("enum")
        if enum is not None and not all(isinstance(v, str) for v in enum):
            raise DialectError(f"{base}: enum values must be strings")
        pattern = schema.get("pattern")
        if pattern is not None:
            _check_pattern(pattern, base)
        scalar = Scalar(
            kind=kind,  # type: ignore[arg-type]  # checked by the caller
            name=name,
            base=base_shape,
            enum=tuple(enum) if enum is not None else None,
            pattern=pattern,
            min_length=schema.get("minLength"),
            max_length=schema.get("maxLength"),
            minimum=schema.get("minimum"),
            maximum=schema.get("maximum"),
        )
        if kind == "string" and not _is_xml_safe(scalar):
            raise DialectError(
                f"{base}: a free string must $ref common.json#/$defs/text (or have a pattern "
                "or an enum), so that XML can carry every value"
            )
        return scalar

    def _array(self, schema: dict[str, Any], keys: set[str], base: str, name: str | None) -> Array:
        extra = keys - {"type", "items", "minItems", "maxItems"}
        if extra or "items" not in schema:
            raise DialectError(f"{base}: arrays take items, minItems, maxItems only ({extra})")
        items = self._slot(schema["items"], base, None)
        if isinstance(items.shape, AnyJson):
            raise DialectError(f"{base}: json_value only as additionalProperties")
        return Array(
            items,
            schema.get("minItems", 0),
            schema.get("maxItems"),
            name,
        )

    def _object(
        self, schema: dict[str, Any], keys: set[str], base: str, name: str | None
    ) -> Object:
        extra = keys - {
            "type",
            "properties",
            "required",
            "additionalProperties",
            "propertyNames",
            "oneOf",
        }
        if extra:
            raise DialectError(f"{base}: {sorted(extra)} not allowed on an object")
        required = set(schema.get("required", ()))
        props: list[Property] = []
        for prop_name, sub in schema.get("properties", {}).items():
            if not _PROPERTY_NAME.match(prop_name):
                raise DialectError(f"{base}: property {prop_name!r} is not snake_case")
            try:
                slot = self._slot(sub, base, None)
            except DialectError as error:
                raise DialectError(f"property {prop_name}: {error}") from None
            if isinstance(slot.shape, AnyJson):
                raise DialectError(f"{base}: json_value only as additionalProperties")
            props.append(Property(prop_name, slot, prop_name in required))
        by_name = {p.name: p for p in props}
        if required - set(by_name):
            raise DialectError(f"{base}: required names unknown properties")
        additional: Slot | None = None
        key: Scalar | None = None
        extra_schema = schema.get("additionalProperties")
        if extra_schema is None and keys == {"type"}:
            additional = Slot(ANY_JSON)  # a bare {"type": "object"}: the envelope's payload
        elif extra_schema is None:
            raise DialectError(f"{base}: objects must state additionalProperties")
        elif extra_schema is not False:
            additional = self._slot(extra_schema, base, None)
            key_slot = self._slot(schema.get("propertyNames", {"type": "string"}), base, None)
            if not isinstance(key_slot.shape, Scalar) or key_slot.shape.kind != "string":
                raise DialectError(f"{base}: propertyNames must be a string scalar")
            key = key_slot.shape
            if props and not isinstance(additional.shape, AnyJson):
                raise DialectError(f"{base}: a map (typed additionalProperties) has no properties")
            if not isinstance(additional.shape, Scalar | AnyJson):
                raise DialectError(f"{base}: map values must be scalars")
        choices = tuple(self._choice(schema["oneOf"], props, base)) if "oneOf" in schema else ()
        return Object(tuple(props), choices, additional, key, name, by_name)

    @staticmethod
    def _choice(branches: list[Any], props: list[Property], base: str) -> list[tuple[str, ...]]:
        names: list[str] = []
        for branch in branches:
            if set(branch) != {"required"} or len(branch["required"]) != 1:
                raise DialectError(f"{base}: oneOf branches must be {{'required': [one name]}}")
            names.append(branch["required"][0])
        order = [p.name for p in props]
        positions = sorted(order.index(n) for n in names)
        if positions != list(range(positions[0], positions[0] + len(names))):
            raise DialectError(f"{base}: choice properties {names} must be listed together")
        if any(props[i].required or props[i].slot.nullable for i in positions):
            raise DialectError(f"{base}: choice properties are neither required nor nullable")
        return [tuple(order[i] for i in positions)]


def _check_pattern(pattern: str, where: str) -> None:
    """Anchored, portable (same meaning in ECMA 262, Python and XSD), and XML-safe.

    Outside the one pattern of ``text``, a pattern may escape only punctuation and may
    not negate a class (``[^...]``), so it lists every character it admits: none that
    XML cannot carry.
    """
    if not (pattern.startswith("^") and pattern.endswith("$")):
        raise DialectError(f"{where}: pattern {pattern!r} must be anchored with ^ and $")
    if pattern == XML_SAFE_PATTERN:
        return
    escapes = set(re.findall(r"\\(.)", pattern))
    if escapes - _PORTABLE_ESCAPES or "[^" in pattern or _BARE_DOT.search(pattern):
        raise DialectError(f"{where}: pattern {pattern!r} uses non-portable regex syntax")
    if any(ord(c) < 0x20 or 0xD800 <= ord(c) <= 0xDFFF or c in "\ufffe\uffff" for c in pattern):
        raise DialectError(f"{where}: pattern {pattern!r} names characters XML cannot carry")
    re.compile(pattern)


def _is_xml_safe(shape: Scalar) -> bool:
    """Every string of this type can be written as XML text."""
    return shape.effective_enum is not None or bool(shape.patterns)
