"""Pure functions between a file's rows and canonical payloads (no I/O).

:func:`row_payload` reads one row (a mapping of column or element name to its
text) with a :class:`~adapters.files.settings.Profile` and returns the payload,
or raises :class:`BadRow` naming every field that is wrong. :func:`flat_row`
goes the other way for outbound CSV files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from adapters.files.settings import FieldRule, Profile
from bus.phones import to_e164

__all__ = ["BadRow", "convert", "flat_row", "get_path", "row_payload", "set_path"]

_CYRILLIC = dict(zip("АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ",
                     ["A", "B", "V", "G", "D", "E", "E", "ZH", "Z", "I", "Y", "K", "L", "M",
                      "N", "O", "P", "R", "S", "T", "U", "F", "KH", "TS", "CH", "SH", "SHCH",
                      "", "Y", "", "E", "YU", "YA"], strict=True))
_IDENTIFIER = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._:@/+=\-]{0,127}$")


class BadRow(ValueError):
    """A row that cannot become a message; ``reasons`` lists each problem."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def convert(text: str, rule: FieldRule, currency: str) -> Any:
    """The canonical value of one field's text; ValueError says why it is not one."""
    if rule.kind == "text":
        if len(text) > 256:
            raise ValueError("longer than 256 characters")
        return text
    if rule.kind == "identifier":
        latin = "".join(_CYRILLIC.get(c.upper(), c) if c.upper() in _CYRILLIC else c
                        for c in text)
        if not _IDENTIFIER.match(latin):
            raise ValueError("is not an identifier (letters, digits, ._:@/+=-)")
        return latin
    if rule.kind == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValueError("is not a date (YYYY-MM-DD)") from None
    if rule.kind == "timestamp":
        try:
            instant = datetime.fromisoformat(text.replace(" ", "T", 1))
        except ValueError:
            raise ValueError("is not a date and time (ISO 8601)") from None
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)  # a legacy export without offset: UTC
        return instant.isoformat()
    if rule.kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError("is not an integer") from None
    if rule.kind == "phone":
        phone = to_e164(text)
        if phone is None:
            raise ValueError("is not a phone number")
        return phone
    amount = _decimal(text)
    return {"amount": amount, "currency": currency} if rule.kind == "money" else amount


def _decimal(text: str) -> str:
    try:
        value = Decimal(text.replace(" ", "").replace(",", "."))
    except InvalidOperation:
        raise ValueError("is not a number") from None
    if not value.is_finite() or abs(value) >= Decimal(10) ** 18:
        raise ValueError("is not a finite amount")
    written = format(value, "f")
    if "." in written and len(written.split(".")[1]) > 8:
        raise ValueError("has more than 8 decimal places")
    return "0" if written == "-0" else written


def row_payload(row: Mapping[str, str | None], profile: Profile) -> dict[str, Any]:
    """The canonical payload of one row, or :class:`BadRow` with every problem in it."""
    payload: dict[str, Any] = {}
    for path, value in profile.constants.items():
        set_path(payload, path, value)
    reasons: list[str] = []
    for path, rule in profile.fields.items():
        text = (row.get(rule.source) or "").strip()
        if not text:
            if rule.required:
                reasons.append(f"{rule.source}: missing (needed for {path})")
            continue
        try:
            set_path(payload, path, convert(text, rule, profile.currency))
        except ValueError as error:
            reasons.append(f"{rule.source}: {error}")
    if reasons:
        raise BadRow(reasons)
    return payload


def set_path(target: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for name in parents:
        target = target.setdefault(name, {})
    target[leaf] = value


def get_path(source: Mapping[str, Any], path: str) -> Any:
    value: Any = source
    for name in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    return value


def flat_row(payload: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """A payload as one CSV row: dotted column names, lists as ``name.0.field``."""
    row: dict[str, str] = {}
    for name, value in payload.items():
        column = f"{prefix}{name}"
        if isinstance(value, Mapping):
            row.update(flat_row(value, f"{column}."))
        elif isinstance(value, list):
            row.update(flat_row({str(i): item for i, item in enumerate(value)}, f"{column}."))
        else:
            row[column] = "" if value is None else str(value)
    return row
