"""Pure functions between a file's rows and canonical payloads (no I/O).

:func:`row_payload` reads one row (a mapping of column or element name to its
text) with a :class:`~adapters.files.settings.Profile` and returns the payload,
or raises :class:`BadRow` naming every field that is wrong. :func:`flat_row`
goes the other way for outbound CSV files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.files.settings import Profile
from bus.adapters.fieldmap import BadRow, get_path, set_path
from bus.adapters.fieldmap import row_payload as payload_of

__all__ = ["BadRow", "flat_row", "get_path", "row_payload", "set_path"]


def row_payload(row: Mapping[str, str | None], profile: Profile) -> dict[str, Any]:
    """The canonical payload of one row, or :class:`BadRow` with every problem in it."""
    rules = ((path, rule.source, rule.kind, rule.required)
             for path, rule in profile.fields.items())
    return payload_of(row, rules, constants=profile.constants, currency=profile.currency)


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
