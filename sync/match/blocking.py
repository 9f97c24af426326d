"""Blocking keys: which records are worth comparing at all.

Each record gets a handful of compact keys (hashed strings); two records are
compared only when they share a key, so work grows with the records, not with
their square. Keys are chosen so that a block stays small however large the
directory grows (a common surname is split by city, initials and first name).
Keys are kind-specific, so a company is never compared with a person. Names
are keyed per city (the city field is reliable), the identifiers (INN,
passport, phone, e-mail) globally.

The hash is the same in every process (CRC-32 and Adler-32 side by side, not
Python's per-process ``hash``), so worker processes can compute a full load's
keys and this process can index them. Two keys that collide only put more
records in one block: they are still scored on their fields.
"""

from __future__ import annotations

from zlib import adler32, crc32

from sync.normalize.record import NormalizedRecord

__all__ = ["block_keys", "inn_key"]


def _last_number(numbers: str) -> str:
    return numbers.rsplit("/", 1)[-1]


def block_keys(r: NormalizedRecord) -> list[int]:
    """The hashed blocking keys of one record (docflow records get none)."""
    if r.system == "docflow":
        return []
    keys: list[str] = []
    if r.inn:
        keys.append("i" + r.inn)
    if r.email:
        keys.append("e" + r.email)
    keys.extend("t" + p for p in r.phones)
    if r.kind == "company":
        # not the name alone: many small firms share a name ("Вектор") within a city
        if r.address_numbers:
            keys.append(f"d{r.city}|{r.address_numbers}")
            if r.name_key:  # a mistyped house number: the name and the office
                keys.append(f"c{r.city}|{r.name_key}|{_last_number(r.address_numbers)}")
    else:
        if r.passport:
            keys.append("p" + r.passport)
        if r.surname and r.patronymic_initial:  # "Иванов И.И." meets "Иванов Иван Ильич"
            keys.append(f"n{r.city}|{r.surname_root}|{r.first_initial}|{r.patronymic_initial}")
        if r.surname and r.first:  # "Иванов Иван" meets "Иванов Иван Ильич"
            keys.append(f"m{r.city}|{r.surname_root}|{r.first}")
        if r.first and r.birth_date:  # a new surname (married) or a misspelt one
            keys.append(f"f{r.first}|{r.birth_date}")
        if r.address_numbers:
            keys.append(f"h{r.city}|{r.address_numbers}")
            if r.first:  # a mistyped surname and house number: the first name and the flat
                keys.append(f"g{r.city}|{r.first}|{_last_number(r.address_numbers)}")
    return [_stable_hash(k.encode()) for k in keys]


def inn_key(inn: str) -> int:
    """The blocking key of every record holding ``inn`` (as :func:`block_keys` makes it)."""
    return _stable_hash(("i" + inn).encode())


def _stable_hash(key: bytes) -> int:
    """A 64-bit unsigned hash, equal in every process and run."""
    return crc32(key) << 32 | adler32(key)
