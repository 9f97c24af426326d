"""The answers the window got from backends, kept for a while and dropped on change.

An answer is stored under its section and the exact request that produced it,
with *tags*: the keys the request and the answer name (``phone:+7…``,
``account:…``, ``crm:…``, ``golden:…``). A change event names tags too
(:mod:`window.invalidation`); every answer of the affected sections with one of
them is dropped at once, so a new balance is never hidden behind the TTL.

An answer that was being fetched while its data changed is not stored: a tag
invalidated after the request left makes the answer too old to keep.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["AnswerCache", "CachedAnswer"]

_INVALIDATION_MEMORY = 120.0  # seconds a tag's invalidation is remembered for in-flight asks


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    section: str
    payload: Mapping[str, Any]
    stored_at: float
    """Monotonic time it was stored."""
    fetched_wall: float
    """Wall-clock time it was fetched (for the view's ``fetched_at``)."""
    tags: frozenset[str]

    def age(self, now: float) -> float:
        return max(0.0, now - self.stored_at)


class AnswerCache:
    def __init__(self, ttl: float, stale_ttl: float, size: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.stale_ttl = max(stale_ttl, ttl)
        self.size = size
        self.clock = clock
        self._entries: OrderedDict[tuple[str, bytes], CachedAnswer] = OrderedDict()
        self._by_tag: dict[str, set[tuple[str, bytes]]] = {}
        self._invalidated: dict[str, float] = {}
        self.hits = 0
        self.misses = 0
        self.invalidations = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, section: str, request: Mapping[str, Any]) -> CachedAnswer | None:
        """An answer within the TTL, or None."""
        entry = self._lookup(section, request, self.ttl)
        if entry is None:
            self.misses += 1
        else:
            self.hits += 1
        return entry

    def get_stale(self, section: str, request: Mapping[str, Any]) -> CachedAnswer | None:
        """An expired but not invalidated answer, for when the backend does not answer."""
        return self._lookup(section, request, self.stale_ttl)

    def put(self, section: str, request: Mapping[str, Any], payload: Mapping[str, Any],
            tags: Collection[str], *, asked_at: float) -> bool:
        """Store an answer unless one of its tags changed after ``asked_at`` (monotonic)."""
        if any(self._invalidated.get(tag, -1.0) >= asked_at for tag in tags):
            return False
        key = (section, _request_key(request))
        self._drop(key)
        entry = CachedAnswer(section, payload, self.clock(), time.time(), frozenset(tags))
        self._entries[key] = entry
        for tag in entry.tags:
            self._by_tag.setdefault(tag, set()).add(key)
        while len(self._entries) > self.size:
            self._drop(next(iter(self._entries)))
        return True

    def invalidate(self, tags: Collection[str], sections: Collection[str] | None = None) -> int:
        """Drop answers of ``sections`` (all when None) carrying any of ``tags``."""
        now = self.clock()
        for tag in tags:
            self._invalidated[tag] = now
        self._forget_old_invalidations(now)
        keys = {key for tag in tags for key in self._by_tag.get(tag, ())}
        dropped = 0
        for key in keys:
            if sections is None or key[0] in sections:
                self._drop(key)
                dropped += 1
        self.invalidations += dropped
        return dropped

    def clear(self) -> None:
        self._entries.clear()
        self._by_tag.clear()

    def _lookup(self, section: str, request: Mapping[str, Any],
                max_age: float) -> CachedAnswer | None:
        key = (section, _request_key(request))
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.age(self.clock()) > max_age:
            if max_age >= self.stale_ttl:
                self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry

    def _drop(self, key: tuple[str, bytes]) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        for tag in entry.tags:
            keys = self._by_tag.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_tag[tag]

    def _forget_old_invalidations(self, now: float) -> None:
        if len(self._invalidated) < 4096:
            return
        horizon = now - _INVALIDATION_MEMORY
        self._invalidated = {tag: at for tag, at in self._invalidated.items() if at >= horizon}


def _request_key(request: Mapping[str, Any]) -> bytes:
    return orjson.dumps(request, option=orjson.OPT_SORT_KEYS)
