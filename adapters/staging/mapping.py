"""Pure functions from a staging row to a canonical payload (no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.staging.settings import StagingSettings
from bus.adapters.fieldmap import BadRow, canonical_value, get_path, set_path

__all__ = ["BadRow", "get_path", "row_payload"]


def row_payload(row: Mapping[str, Any], settings: StagingSettings) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    for path, value in settings.constants.items():
        set_path(payload, path, value)
    reasons: list[str] = []
    for path, column in settings.fields.items():
        value = row.get(column.column)
        if value is None or (isinstance(value, str) and not value.strip()):
            if column.required:
                reasons.append(f"{column.column}: missing")
            continue
        try:
            set_path(payload, path, canonical_value(value, column.kind, settings.currency))
        except ValueError as error:
            reasons.append(f"{column.column}: {error}")
    if reasons:
        raise BadRow(reasons)
    return payload
