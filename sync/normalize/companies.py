# ruff: noqa: RUF001, RUF002 - Russian words and letters, on purpose
"""Company names: legal form (short, long or Latin), quotes, case and word order.

``ООО «Ромашка»``, ``Ромашка ООО``, ``Общество с ограниченной ответственностью
"Ромашка"`` and ``OOO Romashka`` all give legal form ``ООО`` and key ``romashka``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from sync.normalize.text import has_latin, skeleton, to_cyrillic, words

__all__ = ["LEGAL_FORMS", "CompanyName", "has_legal_form", "parse_company_name"]

#: short legal form -> its long spelling
LEGAL_FORMS: dict[str, str] = {
    "ООО": "общество с ограниченной ответственностью",
    "ПАО": "публичное акционерное общество",
    "НАО": "непубличное акционерное общество",
    "ЗАО": "закрытое акционерное общество",
    "ОАО": "открытое акционерное общество",
    "АО": "акционерное общество",
    "ИП": "индивидуальный предприниматель",
    "АНО": "автономная некоммерческая организация",
    "НКО": "некоммерческая организация",
    "ГУП": "государственное унитарное предприятие",
    "МУП": "муниципальное унитарное предприятие",
}
_LONG = sorted(
    ((tuple(long.split()), short) for short, long in LEGAL_FORMS.items()),
    key=lambda item: -len(item[0]),
)
_SHORT_BY_SKELETON = {skeleton(short.lower()): short for short in LEGAL_FORMS} | {
    "llc": "ООО", "jsc": "АО", "pjsc": "ПАО", "oao": "ОАО", "zao": "ЗАО",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class CompanyName:
    """``legal_form`` is the short Cyrillic form or empty; ``key`` is the name's
    words in the skeleton alphabet run together (what matching compares);
    ``display`` is ``ООО «Name»``."""

    legal_form: str
    key: str
    display: str


def _strip_long_form(tokens: list[str]) -> tuple[list[str], str]:
    for long, short in _LONG:
        n = len(long)
        for i in range(len(tokens) - n + 1):
            if tuple(tokens[i : i + n]) == long:
                return tokens[:i] + tokens[i + n :], short
    return tokens, ""


_HINT = re.compile(
    r"(?<![0-9a-zа-яё])(?:" + "|".join(
        sorted({short.lower() for short in LEGAL_FORMS} | set(_SHORT_BY_SKELETON)
               | {long.split()[0] for long in LEGAL_FORMS.values()}, key=len, reverse=True)
    ) + r")(?![0-9a-zа-яё])",
    re.IGNORECASE,
)  # fmt: skip


def has_legal_form(raw: str) -> bool:
    """Whether a name carries a legal form (``ООО``, ``OOO``, ``Акционерное общество``...)."""
    return _HINT.search(raw) is not None and bool(parse_company_name(raw).legal_form)


@lru_cache(maxsize=50_000)
def parse_company_name(raw: str) -> CompanyName:
    tokens, form = _strip_long_form(words(raw))
    rest: list[str] = []
    for token in tokens:
        short = _SHORT_BY_SKELETON.get(skeleton(token))
        if short and not form:
            form = short
        elif not short:
            rest.append(token)
    key = "".join(skeleton(t) for t in rest)
    name = " ".join(to_cyrillic(t) if has_latin(t) else t for t in rest).title()
    display = f"{form} «{name}»" if form else name
    return CompanyName(form, key, display)
