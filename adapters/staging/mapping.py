"""Pure functions from a staging row to a canonical payload (no I/O)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from adapters.staging.settings import Column, StagingSettings

__all__ = ["BadRow", "get_path", "row_payload"]

_CYRILLIC = dict(zip("АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ",
                     ["A", "B", "V", "G", "D", "E", "E", "ZH", "Z", "I", "Y", "K", "L", "M",
                      "N", "O", "P", "R", "S", "T", "U", "F", "KH", "TS", "CH", "SH", "SHCH",
                      "", "Y", "", "E", "YU", "YA"], strict=True))
_IDENTIFIER = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._:@/+=\-]{0,127}$")


class BadRow(ValueError):
    """A row that cannot become a message; the text says every reason."""


def row_payload(row: Mapping[str, Any], settings: StagingSettings) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    for path, value in settings.constants.items():
        _set(payload, path, value)
    reasons: list[str] = []
    for path, column in settings.fields.items():
        value = row.get(column.column)
        if value is None or (isinstance(value, str) and not value.strip()):
            if column.required:
                reasons.append(f"{column.column}: missing")
            continue
        try:
            _set(payload, path, _convert(value, column, settings.currency))
        except ValueError as error:
            reasons.append(f"{column.column}: {error}")
    if reasons:
        raise BadRow("; ".join(reasons))
    return payload


def _convert(value: Any, column: Column, currency: str) -> Any:
    if column.kind == "date":
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        try:
            return date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            raise ValueError("is not a date") from None
    if column.kind == "integer":
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError("is not an integer") from None
    if column.kind in ("decimal", "money"):
        try:
            number = Decimal(str(value).strip().replace(",", "."))
        except InvalidOperation:
            raise ValueError("is not a number") from None
        if not number.is_finite() or abs(number) >= Decimal(10) ** 18:
            raise ValueError("is not a finite amount")
        written = format(number, "f")
        if "." in written and len(written.split(".")[1]) > 8:
            raise ValueError("has more than 8 decimal places")
        return {"amount": written, "currency": currency} if column.kind == "money" else written
    text = str(value).strip()
    if column.kind == "identifier":
        text = "".join(_CYRILLIC.get(c.upper(), c) for c in text)
        if not _IDENTIFIER.match(text):
            raise ValueError("is not an identifier")
    elif len(text) > 256:
        raise ValueError("longer than 256 characters")
    return text


def _set(target: dict[str, Any], path: str, value: Any) -> None:
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
