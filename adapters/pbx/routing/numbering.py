"""Where a caller is from: landlines by area code (``phonenumbers`` geocoder), mobiles by the
operator's numbering-plan registry (``DEF-9xx.csv``, see docs/call-routing.md).

The registry is loaded once into sorted ranges per DEF code; a lookup is a bisect.
"""

from __future__ import annotations

import bisect
import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

import phonenumbers
from phonenumbers import PhoneNumberType, geocoder

__all__ = ["CallerRegion", "NumberingPlan", "caller_region"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CallerRegion:
    region: str
    how: str
    """'area code' (landline) or 'numbering plan' (mobile range)."""


@dataclass(slots=True)
class _Ranges:
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)


class NumberingPlan:
    """Mobile ranges of the Russian numbering plan: DEF code + 7 digits -> region."""

    def __init__(self, ranges: dict[str, _Ranges]) -> None:
        self._ranges = ranges

    @classmethod
    def load(cls, path: Path) -> NumberingPlan:
        """Read the registry (UTF-8 with BOM, ``;``-separated, no quoting)."""
        rows: dict[str, list[tuple[int, int, str]]] = {}
        with path.open(encoding="utf-8-sig", newline="") as file:
            reader = csv.reader(file, delimiter=";", quoting=csv.QUOTE_NONE)
            next(reader, None)
            for row in reader:
                if len(row) < 7 or not row[0].strip().isdigit():
                    continue
                try:
                    start, end = int(row[1]), int(row[2])
                except ValueError:
                    continue
                territory = row[6].split("|")[-1].strip()
                rows.setdefault(row[0].strip(), []).append((start, end, territory))
        ranges: dict[str, _Ranges] = {}
        for code, found in rows.items():
            found.sort()
            ranges[code] = _Ranges([r[0] for r in found], [r[1] for r in found],
                                   [r[2] for r in found])
        log.info("numbering plan %s: %d ranges in %d codes", path.name,
                 sum(len(r.starts) for r in ranges.values()), len(ranges))
        return cls(ranges)

    def __len__(self) -> int:
        return sum(len(r.starts) for r in self._ranges.values())

    def region_of(self, national: str) -> str | None:
        """The region of a 10-digit national number (``9161234567``), or None."""
        if len(national) != 10 or not national.isdigit():
            return None
        ranges = self._ranges.get(national[:3])
        if ranges is None:
            return None
        subscriber = int(national[3:])
        index = bisect.bisect_right(ranges.starts, subscriber) - 1
        if index >= 0 and subscriber <= ranges.ends[index]:
            return ranges.regions[index]
        return None


def caller_region(e164: str, plan: NumberingPlan | None) -> CallerRegion | None:
    """The region of an E.164 number: mobile ranges from ``plan``, landlines by area code."""
    try:
        parsed = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return None
    national = str(parsed.national_number)
    if parsed.country_code == 7 and national.startswith("9"):
        region = plan.region_of(national) if plan is not None else None
        return CallerRegion(region, "numbering plan") if region else None
    if phonenumbers.number_type(parsed) in (PhoneNumberType.MOBILE, PhoneNumberType.UNKNOWN):
        return None
    description = geocoder.description_for_number(parsed, "ru")
    return CallerRegion(description, "area code") if description else None
