"""Pure functions from a staging row to a canonical payload (no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.staging.settings import StagingSettings
from bus.adapters.fieldmap import BadRow, get_path
from bus.adapters.fieldmap import row_payload as payload_of

__all__ = ["BadRow", "get_path", "row_payload"]


def row_payload(row: Mapping[str, Any], settings: StagingSettings) -> dict[str, Any]:
    """The canonical payload of one staging row, or :class:`BadRow` with every problem."""
    rules = ((path, column.column, column.kind, column.required)
             for path, column in settings.fields.items())
    return payload_of(row, rules, constants=settings.constants, currency=settings.currency)
