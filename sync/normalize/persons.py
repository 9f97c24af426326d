# ruff: noqa: RUF001, RUF002 - Russian words and letters, on purpose
"""Person names: word order, initials, diminutives, Latin spelling, gender.

:func:`parse_person_name` reads what a clerk typed (``ИВАНОВ  Иван Иванович``,
``Иван Иванович Иванов``, ``Иванов И.И.``, ``Ivanov Ivan``, ``Иванов Ваня``) and
returns a :class:`PersonName` whose parts are in the Latin skeleton alphabet of
:mod:`sync.normalize.text` (what matching compares) plus a Cyrillic ``display``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import OSA

from sync.normalize.text import clean, has_latin, skeleton, to_cyrillic
from sync.normalize.vocabulary import FEMALE_FIRST_NAMES, MALE_FIRST_NAMES, SHORT_FORMS

__all__ = [
    "PersonName",
    "first_name_gender",
    "first_names_near",
    "initials_of",
    "parse_person_name",
    "surname_root",
]

_TOKEN = re.compile(r"([a-zа-я]+(?:-[a-zа-я]+)*)(\.?)")

#: skeleton of a full first name -> (Cyrillic spelling, gender)
_FIRST: dict[str, tuple[str, str]] = {
    **{skeleton(n): (n, "m") for n in MALE_FIRST_NAMES},
    **{skeleton(n): (n, "f") for n in FEMALE_FIRST_NAMES},
}
#: skeleton of a short form -> skeletons of the full names it stands for
_SHORT: dict[str, tuple[str, ...]] = {
    skeleton(short): tuple(skeleton(full) for full in fulls) for short, fulls in SHORT_FORMS.items()
}
#: Cyrillic letters the skeleton spells with more than one Latin letter (longest first)
_DIGRAPHS = ("shch", "zh", "kh", "ts", "ch", "sh", "yu", "ya")


def _initial(sk: str) -> str:
    """The skeleton of a word's first Cyrillic letter: ``zh`` for Жанна, ``z`` for Зоя
    (their first Latin letters would make Ж. the initial of Зоя)."""
    for digraph in _DIGRAPHS:
        if sk.startswith(digraph):
            return digraph
    return sk[:1]


#: skeleton of a full first name -> initials it may be written with (its short forms')
_INITIALS: dict[str, frozenset[str]] = {}
for _short, _fulls in _SHORT.items():
    for _full in _fulls:
        _INITIALS[_full] = _INITIALS.get(_full, frozenset((_initial(_full),))) | {_initial(_short)}
_MALE_PATRONYMIC = ("vich", "ich")
_FEMALE_PATRONYMIC = ("vna", "chna")
_FEMALE_SURNAME = ("ova", "eva", "ina", "yna", "aya")
_MALE_SURNAME = ("ov", "ev", "in", "yn", "sky", "skoy", "tsky", "oy")


@dataclass(frozen=True, slots=True)
class PersonName:
    """A parsed person name; every part is a skeleton, empty when unknown.

    ``first`` is the full first name (short forms expanded); ``first_initial``
    and ``patronymic_initial`` are set whenever the part or its initial is
    known. ``gender`` is ``m``, ``f`` or empty.
    """

    surname: str
    first: str
    patronymic: str
    first_initial: str
    patronymic_initial: str
    gender: str
    display: str

    @property
    def key(self) -> str:
        """``surname first patronymic`` (the parts that are known)."""
        return " ".join(p for p in (self.surname, self.first, self.patronymic) if p)


def first_name_gender(first: str) -> str:
    """``m``/``f`` for a known full first name (skeleton), else empty."""
    known = _FIRST.get(first)
    return known[1] if known else ""


@lru_cache(maxsize=20_000)
def first_names_near(word: str) -> frozenset[str]:
    """The known full first names (skeletons) one typo away from ``word``."""
    return frozenset(name for name in _FIRST
                     if abs(len(name) - len(word)) <= 1 and OSA.distance(name, word) <= 1)


def initials_of(first: str) -> frozenset[str]:
    """Initials a clerk may write for this first name: its own and its short forms'
    (``Александр`` → ``А``, ``С`` for Саша, ``Ш`` for Шура)."""
    return _INITIALS.get(first) or frozenset((_initial(first),))


@lru_cache(maxsize=50_000)
def surname_root(surname: str) -> str:
    """The surname without its gender ending: ``ivanova`` and ``ivanov`` → ``ivanov``."""
    for female, male in (("skaya", "sk"), ("tskaya", "tsk"), ("aya", "")):
        if surname.endswith(female):
            return surname[: len(surname) - len(female)] + male
    if surname.endswith(("sky", "oy")):
        return surname[:-1] if surname.endswith("y") else surname
    if surname.endswith(("ova", "eva", "ina", "yna")):
        return surname[:-1]
    return surname


@lru_cache(maxsize=4096)
def _is_initial(token: str, dot: str) -> bool:
    """``И``, ``И.``, and Latin ``Yu.``/``Zh.`` (one Cyrillic letter written as two)."""
    return len(token) == 1 or (bool(dot) and len(token) == 2 and has_latin(token)
                               and len(to_cyrillic(token)) == 1)  # fmt: skip


def _is_patronymic(word: str) -> bool:
    return len(word) > 4 and word.endswith(_MALE_PATRONYMIC + _FEMALE_PATRONYMIC)


def _looks_first(word: str) -> bool:
    return word in _FIRST or word in _SHORT


def _gender(surname: str, first: str, patronymic: str) -> str:
    if patronymic.endswith(_FEMALE_PATRONYMIC):
        return "f"
    if patronymic.endswith(_MALE_PATRONYMIC):
        return "m"
    if first in _FIRST:
        return _FIRST[first][1]
    if surname.endswith(_FEMALE_SURNAME):
        return "f"
    if surname.endswith(_MALE_SURNAME):
        return "m"
    return ""


def _expand_short(first: str, gender: str) -> str:
    fulls = _SHORT.get(first)
    if not fulls or (first in _FIRST and len(fulls) == 1 and fulls[0] == first):
        return first
    for full in fulls:
        if not gender or first_name_gender(full) == gender:
            return full
    return fulls[0]


def _order(full: list[str]) -> tuple[str, str, str]:
    """(surname, first, patronymic) raw tokens from the full words, by shape."""
    sk = [skeleton(w) for w in full]
    if len(full) == 1:
        return full[0], "", ""
    if len(full) == 2:
        if _is_patronymic(sk[1]):  # "Имя Отчество"
            return "", full[0], full[1]
        if _looks_first(sk[0]) and not _looks_first(sk[1]):
            return full[1], full[0], ""
        return full[0], full[1], ""
    if _is_patronymic(sk[2]) and not _is_patronymic(sk[1]):
        return full[0], full[1], " ".join(full[2:])
    if _is_patronymic(sk[1]):
        return " ".join(full[2:]), full[0], full[1]
    if _looks_first(sk[0]) and not _looks_first(sk[1]) and not _looks_first(sk[2]):
        return " ".join(full[2:]), full[0], full[1]
    return full[0], full[1], " ".join(full[2:])


@lru_cache(maxsize=100_000)
def _display_part(raw: str, sk: str) -> str:
    if not raw:
        return ""
    if sk in _FIRST:
        return _FIRST[sk][0]
    text = to_cyrillic(raw) if has_latin(raw) else raw
    return "-".join(p.capitalize() for p in text.split("-"))


# small: a record's values repeat in its neighbours (a family, its accounts), rarely further
@lru_cache(maxsize=8192)
def parse_person_name(raw: str) -> PersonName:
    """A person's name as typed → :class:`PersonName` (see the module doc)."""
    full: list[str] = []
    initials: list[str] = []
    for token, dot in _TOKEN.findall(clean(raw)):
        (initials if _is_initial(token, dot) else full).append(token)
    surname_raw, first_raw, patr_raw = _order(full) if full else ("", "", "")
    surname, first, patronymic = skeleton(surname_raw), skeleton(first_raw), skeleton(patr_raw)
    gender = _gender(surname, first, patronymic)
    first = _expand_short(first, gender)
    if not gender:
        gender = _gender(surname, first, patronymic)
    first_initial = _initial(first) or (_initial(skeleton(initials[0])) if initials else "")
    rest = initials[1:] if not first and initials else initials
    patr_initial = _initial(patronymic) or (_initial(skeleton(rest[0])) if rest else "")
    display_first = (
        _display_part(first_raw, first)
        if first
        else (initials[0].upper() + "." if initials else "")
    )
    if first and first in _FIRST:
        display_first = _FIRST[first][0]
    display_patr = (
        _display_part(patr_raw, patronymic)
        if patronymic
        else (rest[0].upper() + "." if rest else "")
    )
    display = " ".join(
        p for p in (_display_part(surname_raw, surname), display_first, display_patr) if p
    )
    return PersonName(surname, first, patronymic, first_initial, patr_initial, gender, display)
