"""Turning a :mod:`jsonschema` error into the field it concerns and a plain reason.

Reasons never repeat the offending value: it may be a passport number or a
phone, and the reason ends up in logs and dead-letter records.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jsonschema import ValidationError

from bus.errors import SchemaViolation

__all__ = ["field_path", "format_path", "json_type", "violation", "violation_message"]

_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (dict, "object"),
    (list, "array"),
    (type(None), "null"),
)


def violation(field: str, reason: str, *, message_id: str | None = None) -> SchemaViolation:
    """A :class:`SchemaViolation` whose text starts with the field, as dead-letter reasons do:
    ``payload.caller_number: does not match the pattern ...``."""
    text = f"{field}: {reason}" if field else reason
    return SchemaViolation(text, field=field, message_id=message_id)


def json_type(value: Any) -> str:
    for python_type, name in _JSON_TYPES:
        if isinstance(value, python_type):
            return name
    return type(value).__name__


def format_path(prefix: str, parts: Iterable[str | int]) -> str:
    """``payload`` + [caller, 0, phone] -> ``payload.caller[0].phone``."""
    out = prefix
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else str(part)
    return out


def relevant(error: ValidationError) -> ValidationError:
    """Report a failed choice (``oneOf`` of required names) as the choice, not a branch."""
    parent = error.parent
    if isinstance(parent, ValidationError) and parent.validator == "oneOf":
        return parent
    return error


def field_path(error: ValidationError, prefix: str) -> str:
    parts: list[str | int] = list(error.absolute_path)
    instance = error.instance
    expected: Any = error.validator_value
    if error.validator == "required" and isinstance(instance, dict):
        missing = [name for name in expected if name not in instance]
        parts.extend(missing[:1])
    elif error.validator == "additionalProperties" and isinstance(instance, dict):
        declared = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        extra = sorted(str(key) for key in instance if key not in declared)
        parts.extend(extra[:1])
    return format_path(prefix, parts)


def violation_message(error: ValidationError) -> str:
    reason = _reason(error)
    if "propertyNames" in error.schema_path:
        return f"has a key that is not allowed: it {reason}"
    return reason


def _reason(error: ValidationError) -> str:
    kind, instance = error.validator, error.instance
    expected: Any = error.validator_value
    if kind == "type":
        wanted = " or ".join(expected) if isinstance(expected, list) else expected
        return f"must be {wanted}, not {json_type(instance)}"
    if kind == "required":
        return "is required"
    if kind == "additionalProperties":
        return "is not a field of this message (unexpected property)"
    if kind == "pattern":
        return f"does not match the pattern {expected}"
    if kind == "enum":
        return "must be one of: " + ", ".join(str(v) for v in expected)
    if kind == "minLength":
        return f"must have at least {expected} characters"
    if kind == "maxLength":
        return f"must have at most {expected} characters"
    if kind == "minimum":
        return f"must be at least {expected}"
    if kind == "maximum":
        return f"must be at most {expected}"
    if kind == "minItems":
        return f"must have at least {expected} items"
    if kind == "maxItems":
        return f"must have at most {expected} items"
    if kind == "oneOf" and all(isinstance(b, dict) and set(b) == {"required"} for b in expected):
        names = ", ".join(b["required"][0] for b in expected)
        return f"must have exactly one of: {names}"
    message = str(error.message)
    return message if len(message) <= 200 else message[:197] + "..."
