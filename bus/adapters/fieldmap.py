"""Rows to canonical payloads: the field conversions legacy-exchange adapters share.

A watched folder's CSV cell, a staging table's column value: :func:`canonical_value`
turns either into the canonical form of its kind (or raises ``ValueError`` saying
why it cannot), and :func:`set_path` / :func:`get_path` address payload fields by
dotted path (``account.balance``); :func:`row_payload` does a whole row with
the adapter's field rules. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from bus.phones import to_e164

__all__ = ["BadRow", "FieldKind", "FieldRule", "canonical_value", "get_path", "row_payload",
           "set_path"]

FieldKind = Literal["text", "identifier", "date", "timestamp", "decimal", "money", "phone",
                    "integer"]

_CYRILLIC = dict(zip("АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ",
                     ["A", "B", "V", "G", "D", "E", "E", "ZH", "Z", "I", "Y", "K", "L", "M",
                      "N", "O", "P", "R", "S", "T", "U", "F", "KH", "TS", "CH", "SH", "SHCH",
                      "", "Y", "", "E", "YU", "YA"], strict=True))
FieldRule = tuple[str, str, FieldKind, bool]
"""``(payload path, source column, kind, required)``: where one canonical field comes from."""
_IDENTIFIER = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._:@/+=\-]{0,127}$")


class BadRow(ValueError):
    """A row that cannot become a message; ``reasons`` lists each problem."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def canonical_value(value: Any, kind: FieldKind, currency: str) -> Any:
    """The canonical value of one field (text or a database value) of ``kind``."""
    if kind == "date":
        return _date(value)
    if kind == "timestamp":
        return _timestamp(value)
    if kind == "integer":
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError("is not an integer") from None
    if kind in ("decimal", "money"):
        amount = _decimal(str(value))
        return {"amount": amount, "currency": currency} if kind == "money" else amount
    text = str(value).strip()
    if kind == "identifier":
        latin = "".join(_CYRILLIC.get(c.upper(), c) for c in text)
        if not _IDENTIFIER.match(latin):
            raise ValueError("is not an identifier (letters, digits, ._:@/+=-)")
        return latin
    if kind == "phone":
        phone = to_e164(text)
        if phone is None:
            raise ValueError("is not a phone number")
        return phone
    if len(text) > 256:
        raise ValueError("longer than 256 characters")
    return text


def _date(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise ValueError("is not a date (YYYY-MM-DD)") from None


def _timestamp(value: Any) -> str:
    if isinstance(value, datetime):
        instant = value
    else:
        try:
            instant = datetime.fromisoformat(str(value).strip().replace(" ", "T", 1))
        except ValueError:
            raise ValueError("is not a date and time (ISO 8601)") from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)  # a legacy export without offset: UTC
    return instant.isoformat()


def _decimal(text: str) -> str:
    try:
        value = Decimal(text.strip().replace(" ", "").replace(",", "."))
    except InvalidOperation:
        raise ValueError("is not a number") from None
    if not value.is_finite() or abs(value) >= Decimal(10) ** 18:
        raise ValueError("is not a finite amount")
    written = format(value, "f")
    if "." in written and len(written.split(".")[1]) > 8:
        raise ValueError("has more than 8 decimal places")
    return "0" if written == "-0" else written


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


def row_payload(row: Mapping[str, Any], rules: Iterable[FieldRule], *,
                constants: Mapping[str, Any], currency: str) -> dict[str, Any]:
    """The canonical payload of one row (column -> text or database value): ``constants``
    first, then each rule's field; :class:`BadRow` with every problem in the row."""
    payload: dict[str, Any] = {}
    for path, constant in constants.items():
        set_path(payload, path, constant)
    reasons: list[str] = []
    for path, source, kind, required in rules:
        value = row.get(source)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                reasons.append(f"{source}: missing (needed for {path})")
            continue
        try:
            set_path(payload, path, canonical_value(value, kind, currency))
        except ValueError as error:
            reasons.append(f"{source}: {error}")
    if reasons:
        raise BadRow(reasons)
    return payload
