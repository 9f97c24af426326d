"""Phone numbers in E.164, one rule for every adapter (region RU unless told otherwise)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import phonenumbers

__all__ = ["call_customer_e164", "to_e164"]

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_NON_DIGIT = re.compile(r"[^0-9]")


def to_e164(value: Any, region: str = "RU", *, valid_only: bool = False) -> str | None:
    """A number as typed (``8 (912) 345-67-89``, ``+7 912 …``) in E.164, or None.

    None for anything with fewer than five digits, that ``phonenumbers`` cannot
    parse, or that is not a possible number (with ``valid_only``: not a valid,
    assigned one).
    """
    raw = str(value or "").strip()
    if len(_NON_DIGIT.sub("", raw)) < 5:
        return None
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    check = phonenumbers.is_valid_number if valid_only else phonenumbers.is_possible_number
    if not check(parsed):
        return None
    number = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return number if _E164.match(number) else None


def call_customer_e164(call: Mapping[str, Any], region: str = "RU") -> str | None:
    """The customer's number of a canonical call event (``pbx.call.*.v1``) in E.164.

    The producer's ``customer_e164`` when the event has it (null included: withheld, an
    extension, no valid number); events of older producers lack it, and then the caller
    (inbound) or the dialled number (outbound) is normalised here.
    """
    if "customer_e164" in call:
        found = call["customer_e164"]
        return found if isinstance(found, str) else None
    number = {"inbound": call.get("caller_number"),
              "outbound": call.get("called_number")}.get(call.get("direction") or "")
    return to_e164(number, region) if number else None
