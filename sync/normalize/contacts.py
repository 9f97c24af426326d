# ruff: noqa: RUF001, RUF002 - Russian words and letters, on purpose
"""Phones (E.164), e-mail and postal addresses."""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz.distance import OSA

from bus.phones import to_e164
from sync.normalize.text import clean

__all__ = [
    "address_numbers",
    "is_mobile",
    "normalize_address",
    "normalize_email",
    "normalize_phone",
]

_NON_DIGIT = re.compile(r"\D")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Whole words replaced by their short form; the short forms lose their dot.
_ADDRESS_WORDS = {
    "улица": "ул", "проспект": "пр", "пр-т": "пр", "просп": "пр", "переулок": "пер",
    "площадь": "пл", "бульвар": "б-р", "шоссе": "ш", "набережная": "наб", "дом": "д",
    "квартира": "кв", "офис": "оф", "корпус": "к", "корп": "к", "строение": "стр",
    "город": "г", "область": "обл", "район": "р-н",
}  # fmt: skip
_ADDRESS_TOKEN = re.compile(r"[0-9a-zа-я]+(?:-[0-9a-zа-я]+)*")
_DROP = frozenset({"г", "россия", "рф"})
# What starts the street part; anything before it (a misspelt city) is dropped.
_STREET_TYPES = frozenset({"ул", "пр", "пер", "пл", "б-р", "ш", "наб", "мкр", "тракт", "проезд"})
_NUMBER = re.compile(r"\d+")


_NATIONAL_LEADS = frozenset("3489")


def normalize_phone(raw: str, region: str = "RU") -> str | None:
    """A phone as typed → E.164 by :func:`bus.phones.to_e164`.

    The usual Russian spellings of a number with a ten-digit national part
    (``8 (912) 345-67-89``, ``+7 912 …``, ``9123456789``) are written ``+7`` and
    the ten digits directly: that is exactly what ``to_e164`` answers for them
    (a test holds the two equal), without its parser's cost on millions of
    records. Anything else goes through ``to_e164``.
    """
    digits = _NON_DIGIT.sub("", raw)
    if region == "RU":
        if len(digits) == 11 and digits[0] in "78" and digits[1] in _NATIONAL_LEADS:
            return "+7" + digits[1:]
        if len(digits) == 10 and digits[0] in _NATIONAL_LEADS and not raw.lstrip().startswith("+"):
            return "+7" + digits
    return _to_e164(raw, region)


@lru_cache(maxsize=50_000)
def _to_e164(raw: str, region: str) -> str | None:
    return to_e164(raw, region)


def is_mobile(e164: str) -> bool:
    """Russian mobile numbers are ``+79…``; the rest (landlines) are shared by households."""
    return e164.startswith("+79")


def normalize_email(raw: str | None) -> str | None:
    text = (raw or "").strip().lower()
    return text if _EMAIL.match(text) else None


@lru_cache(maxsize=10_000)
def _city_words(city: str | None) -> list[str]:
    return _ADDRESS_TOKEN.findall(clean(city))


# small: a record's values repeat in its neighbours (a family, its accounts), rarely further
@lru_cache(maxsize=8192)
@lru_cache(maxsize=20_000)
def _address_word(token: str) -> str:
    """The short form of an address word, its typos included (``улца``, ``улице`` →
    ``ул``): a word of four letters or more one typo from a long form (five or more,
    so that no short form or house number is taken for another)."""
    known = _ADDRESS_WORDS.get(token)
    if known is not None or len(token) < 4 or token.isdigit():
        return known or token
    near = {short for long, short in _ADDRESS_WORDS.items()
            if len(long) >= 5 and abs(len(long) - len(token)) <= 1
            and OSA.distance(long, token) <= 1}
    return near.pop() if len(near) == 1 else token


def normalize_address(raw: str | None, city: str | None = None) -> str:
    """Lower case, ``улица`` → ``ул`` (a typo in such a word too), ``г.``/``город`` and
    the record's own city dropped (and whatever precedes the street), punctuation gone:
    ``г. Томск, улица Свободы, д. 110, оф. 21`` → ``ул свободы д 110 оф 21``."""
    tokens = [_address_word(t) for t in _ADDRESS_TOKEN.findall(clean(raw))]
    city_words = _city_words(city)
    if city_words and tokens:
        n = len(city_words)
        for i in range(len(tokens) - n + 1):
            if tokens[i : i + n] == city_words:
                tokens = tokens[:i] + tokens[i + n :]
                break
    for i, t in enumerate(tokens):
        if t in _STREET_TYPES:
            tokens = tokens[i:]
            break
    return " ".join(t for t in tokens if t not in _DROP)


def address_numbers(normalized: str) -> str:
    """The numbers of an address (house, flat, office) in order: ``110/21``."""
    return "/".join(_NUMBER.findall(normalized))
