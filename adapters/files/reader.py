"""Reading a dropped file into rows: CSV with a header line, or XML (through ``safe_xml``).

Each row comes with where it was in the file (CSV line, XML element line) so
a rejection report can point at it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from adapters.files.settings import Profile
from bus.errors import MalformedMessage
from bus.schema.safe_xml import parse_xml

__all__ = ["Row", "read_rows"]


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    values: dict[str, str | None]
    problem: str | None = None


def read_rows(data: bytes, suffix: str, profile: Profile, *, max_bytes: int) -> list[Row]:
    """The rows of a ``.csv`` or ``.xml`` file; :class:`MalformedMessage` if it is neither."""
    if suffix == ".csv":
        return _csv_rows(data, profile)
    if suffix == ".xml":
        return _xml_rows(data, profile, max_bytes)
    raise MalformedMessage(f"unsupported file type {suffix or '(none)'}: only .csv and .xml")


def _csv_rows(data: bytes, profile: Profile) -> list[Row]:
    try:
        text = data.decode(profile.encoding)
    except (UnicodeDecodeError, LookupError) as error:
        raise MalformedMessage(f"not {profile.encoding} text: {error}") from None
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=profile.delimiter,
                            strict=True)
    rows: list[Row] = []
    try:
        header = reader.fieldnames or []
        missing = sorted({rule.source for rule in profile.fields.values()
                          if rule.required} - set(header))
        if missing:
            raise MalformedMessage(f"the header has no column {', '.join(missing)}")
        for values in reader:
            if None in values:
                rows.append(Row(reader.line_num, {}, "more values than columns"))
                continue
            rows.append(Row(reader.line_num, dict(values)))
    except csv.Error as error:
        raise MalformedMessage(f"CSV line {reader.line_num}: {error}") from None
    return rows


def _xml_rows(data: bytes, profile: Profile, max_bytes: int) -> list[Row]:
    root = parse_xml(data, max_bytes)
    rows: list[Row] = []
    for element in root.iter():
        if not isinstance(element.tag, str) or _local(element.tag) != profile.record:
            continue
        values: dict[str, str | None] = {_local(k): v for k, v in element.attrib.items()}
        for child in element:
            if isinstance(child.tag, str):
                values[_local(child.tag)] = child.text
        rows.append(Row(element.sourceline or 0, values))
    return rows


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
