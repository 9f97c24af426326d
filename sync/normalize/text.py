# ruff: noqa: RUF001, RUF002 - Russian words and letters, on purpose
"""Text basics every normalizer shares: case, spaces, ``ё``, and transliteration.

Matching compares names in one *skeleton* alphabet: Cyrillic is transliterated to
Latin with the passport-office scheme, and Latin input is folded onto the same
spelling (``kh``/``h``, ``j``/``y``, ``iy``/``y``), so ``Соловьёв``,
``Соловьев`` and ``Solovev`` all give ``solovev``. :func:`to_cyrillic` turns a
Latin spelling back into Cyrillic for display.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["clean", "has_latin", "skeleton", "to_cyrillic", "words"]

_CYR_TO_LAT = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
    "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu",
    "я": "ya",
}  # fmt: skip

# Latin spellings other schemes use, folded onto the one above (longest first).
_LATIN_FOLDS = (
    ("shch", "shch"), ("sch", "shch"), ("tch", "ch"), ("sh", "sh"), ("ch", "ch"),
    ("zh", "zh"), ("iya", "ya"), ("ia", "ya"), ("iu", "yu"), ("ja", "ya"), ("ju", "yu"),
    ("jo", "e"), ("yo", "e"), ("ye", "e"), ("tc", "ts"), ("tz", "ts"), ("kh", "kh"), ("h", "kh"),
    ("x", "ks"), ("j", "y"), ("w", "v"), ("q", "k"), ("c", "ts"),
)  # fmt: skip

_LAT_TO_CYR = (
    ("shch", "щ"), ("zh", "ж"), ("kh", "х"), ("ts", "ц"), ("ch", "ч"), ("sh", "ш"),
    ("yu", "ю"), ("ya", "я"), ("a", "а"), ("b", "б"), ("v", "в"), ("g", "г"), ("d", "д"),
    ("e", "е"), ("z", "з"), ("i", "и"), ("k", "к"), ("l", "л"), ("m", "м"), ("n", "н"),
    ("o", "о"), ("p", "п"), ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"), ("f", "ф"),
)  # fmt: skip
_VOWELS_LAT = frozenset("aeiouy")
_LAT_EXTRA = {"h": "х", "c": "к", "x": "кс", "j": "й", "w": "в", "q": "к"}

_WORD = re.compile(r"[0-9a-zа-я]+")
_LATIN = re.compile(r"[a-z]")


def clean(value: str | None) -> str:
    """Lower case, ``ё`` → ``е``, one space between words, no edge spaces."""
    if not value:
        return ""
    return " ".join(value.lower().replace("ё", "е").split())  # split(): the runs ``\\s+`` finds


def words(value: str | None) -> list[str]:
    """The letter/digit runs of a cleaned value (punctuation and quotes dropped)."""
    return _WORD.findall(clean(value))


def has_latin(value: str) -> bool:
    return _LATIN.search(value) is not None


@lru_cache(maxsize=200_000)
def skeleton(word: str) -> str:
    """One lower-case word in the Latin skeleton alphabet (see the module doc)."""
    latin = "".join(_CYR_TO_LAT.get(ch, ch) for ch in word.lower())
    out: list[str] = []
    i = 0
    while i < len(latin):
        for src, dst in _LATIN_FOLDS:
            if latin.startswith(src, i) and (i or src[0] != "i"):
                out.append(dst)
                i += len(src)
                break
        else:
            out.append(latin[i])
            i += 1
    folded = "".join(out)
    if folded.endswith(("iy", "ij", "yj")):  # Дмитрий, Dmitrij, Dmitry
        folded = folded[:-2] + "y"
    return folded


@lru_cache(maxsize=50_000)
def to_cyrillic(word: str) -> str:
    """A Latin spelling written back in Cyrillic, best effort (names known to
    :mod:`sync.normalize.persons` are looked up there first).

    ``y`` is ``й`` after a vowel and ``ы`` after a consonant, ``iy`` at the end
    is ``ий``; a leading ``e`` is ``э``.
    """
    word = word.lower()
    out: list[str] = []
    i = 0
    while i < len(word):
        ch = word[i]
        if ch == "y" and not word.startswith(("ya", "yu", "ye", "yo"), i):
            prev = word[i - 1] if i else ""
            out.append("й" if (not prev or prev in _VOWELS_LAT) else "ы")
            i += 1
            continue
        if word.startswith(("ye", "yo"), i):
            out.append("е" if word[i + 1] == "e" else "ё")
            i += 2
            continue
        if ch == "e" and i == 0:
            out.append("э")
            i += 1
            continue
        for src, dst in _LAT_TO_CYR:
            if word.startswith(src, i):
                out.append(dst)
                i += len(src)
                break
        else:
            out.append(_LAT_EXTRA.get(ch, ch))
            i += 1
    return "".join(out)
