"""Business keys: what a person searching the journal knows about a message.

A phone number, an account, a customer id, an INN. They are taken from the
payload by configured field names (matched at any depth, in any spelling:
``customer_id``, ``customerId``, ``Customer-ID``) or dotted paths from the payload's root
(``customer.phone``), normalized, and stored beside the message. Phones are
stored in full even when the payload's copy is masked: finding every message
about a number is what the journal is for. Keys named in ``hashed`` (the INN)
are stored only as a keyed hash under ``<name>_hash``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from bus.journal.tables import KEY_VALUE_LENGTH

__all__ = ["KeyExtractor", "normalize_key"]

MAX_KEYS_PER_MESSAGE = 64
_TOKEN = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_NON_DIGIT = re.compile(r"\D")
_SCALARS = frozenset((str, int, float, bool, type(None)))


@lru_cache(maxsize=4096)
def _tokens(name: str) -> tuple[str, ...]:
    return tuple(token.lower() for token in _TOKEN.findall(name))


def normalize_phone(value: str) -> str:
    """``8 (916) 123-45-67``, ``+7 916 1234567``, ``9161234567`` -> ``+79161234567``.

    Russian national forms become E.164; other numbers of 11+ digits get a
    ``+``; short numbers (PBX extensions) are kept as digits.
    """
    digits = _NON_DIGIT.sub("", value)
    if len(digits) == 11 and digits[0] == "8":
        digits = "7" + digits[1:]
    elif len(digits) == 10 and digits[0] == "9":
        digits = "7" + digits
    return "+" + digits if len(digits) >= 11 else digits


def normalize_key(name: str, value: Any) -> str:
    """The stored form of one key value (before hashing)."""
    text = str(value).strip()
    if name == "phone":
        return normalize_phone(text)
    if name == "inn":
        return _NON_DIGIT.sub("", text)
    return text


class KeyExtractor:
    """Finds the configured keys in a payload and returns ``(name, value)`` pairs to store."""

    def __init__(
        self,
        fields: Mapping[str, tuple[str, ...]],
        *,
        hashed: tuple[str, ...] = ("inn",),
        secret: str = "",
    ) -> None:
        self._by_token: dict[tuple[str, ...], str] = {}
        self._by_key: dict[str, str | None] = {}
        self._paths: list[tuple[tuple[str, ...], str]] = []
        for name, names in fields.items():
            for field in names:
                if "." in field:
                    self._paths.append((tuple(field.split(".")), name))
                else:
                    self._by_token[_tokens(field)] = name
        self._hashed = frozenset(hashed)
        self._secret = secret.encode()

    def stored_name(self, name: str) -> str:
        return f"{name}_hash" if name in self._hashed else name

    def stored_value(self, name: str, value: Any) -> str | None:
        """Normalized (and, for hashed keys, hashed) value; ``None`` if empty."""
        normalized = normalize_key(name, value)
        if not normalized:
            return None
        if name in self._hashed:
            return hmac.new(self._secret, normalized.encode(), hashlib.sha256).hexdigest()[:40]
        return normalized[:KEY_VALUE_LENGTH]

    def candidates(self, value: str) -> set[str]:
        """Every stored form a bare search value could have, whatever its key name."""
        forms = {value.strip(), normalize_phone(value)}
        forms.update(self.stored_value(name, value) or "" for name in self._hashed)
        forms.discard("")
        return forms

    def extract(self, payload: Mapping[str, Any]) -> list[tuple[str, str]]:
        found: dict[tuple[str, str], None] = {}
        for path, name in self._paths:
            node: Any = payload
            for part in path:
                node = node.get(part) if isinstance(node, Mapping) else None
            if self._add(found, name, node):
                return list(found)
        if self._by_token:
            self._walk(payload, 0, found)
        return list(found)

    def _add(self, found: dict[tuple[str, str], None], name: str, value: Any) -> bool:
        """Keep the keys in ``value`` (a scalar or a list of them); True once ``found`` is full."""
        for item in value if isinstance(value, list) else (value,):
            if isinstance(item, str | int) and not isinstance(item, bool):
                stored = self.stored_value(name, item)
                if stored is not None:
                    found[(self.stored_name(name), stored)] = None
                    if len(found) >= MAX_KEYS_PER_MESSAGE:
                        return True
        return False

    def _name_of(self, key: Any) -> str | None:
        text = key if type(key) is str else str(key)
        try:
            return self._by_key[text]
        except KeyError:
            name = self._by_token.get(_tokens(text))
            if len(self._by_key) < 10_000:
                self._by_key[text] = name
            return name

    def _walk(self, node: Any, depth: int, found: dict[tuple[str, str], None]) -> bool:
        """Collect keys at any depth; True when ``found`` is full (stop)."""
        if depth > 16:
            return False
        if type(node) is dict or isinstance(node, Mapping):
            by_key = self._by_key
            for key, value in node.items():
                try:
                    name = by_key[key]
                except KeyError:
                    name = self._name_of(key)
                if name is not None:
                    if self._add(found, name, value):
                        return True
                elif type(value) not in _SCALARS and self._walk(value, depth + 1, found):
                    return True
        elif isinstance(node, list):
            for item in node:
                if type(item) not in _SCALARS and self._walk(item, depth + 1, found):
                    return True
        return False
