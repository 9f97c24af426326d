"""Pure value normalisation for the billing mapping: INN, passport, phones, dates, money.

LANBilling stores what operators typed: ``8 (951) 270-49-79``, ``0407 №212471``,
``0000-00-00`` for "no date", doubles for money, local timestamps without an
offset. These functions turn such values into the canonical forms
(``schemas/json/common.json``) or ``None`` when nothing usable is there.
"""

# ruff: noqa: RUF001, RUF002 - Russian data and its Cyrillic letters, on purpose

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from bus.phones import to_e164

__all__ = [
    "currency_code", "email", "inn", "money", "number_candidates", "passport", "phone",
    "phones", "text", "to_date", "to_timestamp", "transliterate",
]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(\.[A-Za-z0-9\-]{1,63}){0,8}"
                    r"\.[A-Za-z][A-Za-z0-9\-]{1,62}$")
_DOCUMENT_CODE = re.compile(r"^[0-9A-Za-zА-ЯЁа-яё\-]{1,16}$")
_RUBLES = {"руб", "руб.", "р", "р.", "₽", "rub", "rur", "рубль", "рублей"}
_CYRILLIC = dict(zip(
    "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ",
    ["A", "B", "V", "G", "D", "E", "E", "ZH", "Z", "I", "J", "K", "L", "M", "N", "O", "P",
     "R", "S", "T", "U", "F", "KH", "C", "CH", "SH", "SHCH", "", "Y", "", "EH", "JU", "JA"],
    strict=True))
_LATIN = sorted(((latin, cyr) for cyr, latin in _CYRILLIC.items() if latin and cyr != "Ё"),
                key=lambda pair: -len(pair[0]))


def text(value: Any, limit: int = 256) -> str | None:
    """One line of XML-safe text, at most ``limit`` characters; None when empty."""
    if value is None:
        return None
    cleaned = _CONTROL.sub("", str(value)).strip()
    return cleaned[:limit] or None


def inn(value: Any) -> str | None:
    """The INN's digits when there are 10 (company) or 12 (person); checksums are sync's job."""
    digits = re.sub(r"\D", "", str(value or ""))
    return digits if len(digits) in (10, 12) else None


def passport(series: Any, number: Any, issued_on: Any = None, issued_by: Any = None
             ) -> dict[str, Any] | None:
    """Series and number without spaces or ``№``; a 10-digit number alone is split 4 + 6."""
    series_code = re.sub(r"[\s№#]", "", str(series or ""))
    number_code = re.sub(r"[\s№#]", "", str(number or ""))
    if not series_code and re.fullmatch(r"[0-9]{10}", number_code):
        series_code, number_code = number_code[:4], number_code[4:]
    if not _DOCUMENT_CODE.match(number_code):
        return None
    result: dict[str, Any] = {
        "series": series_code if _DOCUMENT_CODE.match(series_code) else None,
        "number": number_code,
        "issued_on": to_date(issued_on),
        "issued_by": text(issued_by),
    }
    if re.fullmatch(r"[0-9]{4}", series_code) and re.fullmatch(r"[0-9]{6}", number_code):
        result["country"] = "RU"
    return result


def phone(value: Any, region: str = "RU") -> str | None:
    """One number in E.164 (``+79512704979``), or None if it is not a possible number."""
    return to_e164(value, region)


def phones(value: Any) -> list[tuple[str, str]]:
    """``(e164, raw)`` for each number in a field that may hold several (``,`` or ``;``)."""
    found = []
    for raw in re.split(r"[,;]", str(value or "")):
        number = phone(raw)
        if number:
            found.append((number, raw.strip()[:256]))
    return found


def email(value: Any) -> str | None:
    candidate = str(value or "").strip()
    return candidate if _EMAIL.match(candidate) else None


def to_date(value: Any) -> str | None:
    """``YYYY-MM-DD`` from a billing date or timestamp; ``0000-00-00`` and junk are None."""
    match = re.match(r"^\s*([0-9]{4})-([0-9]{2})-([0-9]{2})", str(value or ""))
    if not match:
        return None
    try:
        year, month, day = (int(part) for part in match.groups())
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def to_timestamp(value: Any, timezone: str = "UTC") -> str | None:
    """A billing local timestamp (``2024-03-12 07:00:00``) as RFC 3339 in UTC."""
    raw = str(value or "").strip().replace("T", " ")
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if moment.year < 1900:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(value: Any, currency: str) -> dict[str, str]:
    """A double from the billing as a lossless decimal string with at least 2 places."""
    try:
        amount = Decimal(repr(value) if isinstance(value, float) else str(value or 0))
    except InvalidOperation:
        amount = Decimal(0)
    if not amount.is_finite():
        amount = Decimal(0)
    try:
        amount = amount.quantize(Decimal("0.00000001")).normalize()
        if amount.as_tuple().exponent > -2:  # type: ignore[operator]
            amount = amount.quantize(Decimal("0.01"))
    except InvalidOperation:  # beyond 28 digits: left as it is, the schema will say no
        pass
    if amount == 0:
        amount = Decimal("0.00")
    return {"amount": format(amount, "f"), "currency": currency}


def currency_code(symbol: Any, default: str = "RUB") -> str:
    """ISO 4217 from LANBilling's currency symbol (``руб.`` -> RUB)."""
    raw = str(symbol or "").strip()
    if raw.lower() in _RUBLES:
        return "RUB"
    if re.fullmatch(r"[A-Z]{3}", raw):
        return raw
    return default


def transliterate(number: str) -> str:
    """An agreement number as a canonical identifier: ``ЛС-00000001`` -> ``LS-00000001``."""
    latin = "".join(_CYRILLIC[char] if char in _CYRILLIC else
                    _CYRILLIC[char.upper()].lower() if char.upper() in _CYRILLIC else char
                    for char in number.strip())
    latin = re.sub(r"[^0-9A-Za-z._:@/+=\-]+", "-", latin).strip("-._:@/+=")
    return latin[:128]


def number_candidates(identifier: str) -> list[str]:
    """Billing numbers a canonical account number may stand for (it, and its letter prefix
    back in Cyrillic: ``LS-00000001`` -> ``ЛС-00000001``)."""
    match = re.match(r"^([A-Za-z]+)(.*)$", identifier)
    candidates = [identifier]
    if match:
        prefix, rest = match.group(1).upper(), match.group(2)
        cyrillic = ""
        while prefix:
            latin, letter = next(((lat, cyr) for lat, cyr in _LATIN if prefix.startswith(lat)),
                                 (prefix[0], prefix[0]))
            cyrillic += letter
            prefix = prefix[len(latin):]
        candidates.append(cyrillic + rest)
    return list(dict.fromkeys(candidates))
