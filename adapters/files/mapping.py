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
from bus.adapters.fieldmap import BadRow, canonical_value, get_path, set_path

__all__ = ["BadRow", "flat_row", "get_path", "row_payload", "set_path"]


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
            set_path(payload, path, canonical_value(text, rule.kind, profile.currency))
        except ValueError as error:
            reasons.append(f"{rule.source}: {error}")
    if reasons:
        raise BadRow(reasons)
    return payload


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
