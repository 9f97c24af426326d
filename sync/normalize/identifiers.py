"""INN (with its checksum), passport series and number, birth dates."""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

__all__ = ["Inn", "normalize_birth_date", "normalize_inn", "normalize_passport"]

_DIGITS = re.compile(r"\d")
_W10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_W11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_W12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%Y.%m.%d", "%d-%m-%Y")


@dataclass(frozen=True, slots=True)
class Inn:
    """Digits of an INN; ``valid`` says its length and checksum hold;
    ``kind`` is ``company`` (10 digits) or ``person`` (12)."""

    digits: str
    valid: bool

    @property
    def kind(self) -> str:
        return {10: "company", 12: "person"}.get(len(self.digits), "")


def _check(digits: list[int], weights: tuple[int, ...]) -> int:
    return int(sum(map(operator.mul, weights, digits))) % 11 % 10


# small: a record's values repeat in its neighbours (a family, its accounts), rarely further
@lru_cache(maxsize=4096)
def _inn_valid(s: str) -> bool:
    d = list(map(int, s))
    if len(d) == 10:
        return _check(d, _W10) == d[9]
    if len(d) == 12:
        return _check(d, _W11) == d[10] and _check(d, _W12) == d[11]
    return False


# small: a record's values repeat in its neighbours (a family, its accounts), rarely further
@lru_cache(maxsize=8192)
def normalize_inn(raw: str | None) -> Inn | None:
    """The INN's digits and whether its checksum holds; None when nothing was typed."""
    digits = raw if raw and raw.isdigit() else "".join(_DIGITS.findall(raw or ""))
    if not digits:
        return None
    return Inn(digits, _inn_valid(digits) and digits.strip("0") != "")


def normalize_passport(raw: str | None) -> str | None:
    """A Russian passport as its ten digits (``4509 123456``, ``45 09 №123456``), or None."""
    digits = "".join(_DIGITS.findall(raw or ""))
    return digits if len(digits) == 10 else None


def normalize_birth_date(raw: str | None) -> str | None:
    """ISO ``YYYY-MM-DD`` from the usual spellings; None when absent or impossible."""
    text = (raw or "").strip()
    if not text:
        return None
    if len(text) == 10 and text[4] == "-":
        try:
            iso = date.fromisoformat(text)
        except ValueError:
            iso = None
        if iso is not None:
            return text if date(1900, 1, 1) <= iso <= date(2030, 1, 1) else None
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(text[:10], fmt).date()
        except ValueError:
            continue
        if date(1900, 1, 1) <= parsed <= date(2030, 1, 1):
            return parsed.isoformat()
        return None
    return None
