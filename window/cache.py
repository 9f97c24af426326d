"""The answers the window got from backends, kept for a while and dropped on change.

An answer is stored under its section and the exact request that produced it,
with *tags*: the keys the request and the answer name (``phone:+7…``,
``account:…``, ``crm:…``, ``golden:…``). A change event names tags too
(:mod:`window.invalidation`); every answer of the affected sections with one of
them is dropped at once, so a new balance is never hidden behind the TTL.

An answer that was being fetched while its data changed is not stored: a tag
invalidated after the request left makes the answer too old to keep.

The cache holds thousands of answers for minutes, so it keeps them where the
cyclic garbage collector does not look: an answer as a plain tuple of its JSON
bytes (parsed again on a hit, a few microseconds), times and tags (a tuple of
strings), keys as strings, the tag index as dictionaries of strings; the
collector stops tracking such tuples and dictionaries the first time it meets
them. Kept as parsed dictionaries, 10 000 answers were some 100 000 tracked
objects that every full collection walked, holding the event loop 50-80 ms
each time (bench/unified_view.py); now it walks none of them.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["AnswerCache", "CachedAnswer"]

_Stored = tuple[str, bytes, float, float, tuple[str, ...]]
"""A :class:`CachedAnswer`'s fields as kept: a tuple the collector stops tracking."""
_INVALIDATION_MEMORY = 120.0  # seconds a tag's invalidation is remembered for in-flight asks


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    section: str
    body: bytes
    """The answer's payload as JSON."""
    stored_at: float
    """Monotonic time it was stored."""
    fetched_wall: float
    """Wall-clock time it was fetched (for the view's ``fetched_at``)."""
    tags: tuple[str, ...]

    @property
    def payload(self) -> dict[str, Any]:
        """The answer's payload, a new copy each time (callers may change it)."""
        payload: dict[str, Any] = orjson.loads(self.body)
        return payload

    def age(self, now: float) -> float:
        return max(0.0, now - self.stored_at)


class AnswerCache:
    def __init__(self, ttl: float, stale_ttl: float, size: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.stale_ttl = max(stale_ttl, ttl)
        self.size = size
        self.clock = clock
        self._entries: OrderedDict[str, _Stored] = OrderedDict()
        self._by_tag: dict[str, dict[str, None]] = {}
        """Tag -> the keys of the answers carrying it (a dict of strings: untracked)."""
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
        invalidated = self._invalidated
        if invalidated and any(invalidated.get(tag, -1.0) >= asked_at for tag in tags):
            return False
        key = _key(section, request)
        if key in self._entries:
            self._drop(key)
        entry: _Stored = (section, orjson.dumps(payload), self.clock(), time.time(),
                          tuple(tags if isinstance(tags, set | frozenset) else set(tags)))
        self._entries[key] = entry
        by_tag = self._by_tag
        for tag in entry[4]:
            keys = by_tag.get(tag)
            if keys is None:
                by_tag[tag] = {key: None}
            else:
                keys[key] = None
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
            if sections is None or self._entries[key][0] in sections:
                self._drop(key)
                dropped += 1
        self.invalidations += dropped
        return dropped

    def clear(self) -> None:
        self._entries.clear()
        self._by_tag.clear()

    def _lookup(self, section: str, request: Mapping[str, Any],
                max_age: float) -> CachedAnswer | None:
        key = _key(section, request)
        stored = self._entries.get(key)
        if stored is None:
            return None
        entry = CachedAnswer(*stored)
        if entry.age(self.clock()) > max_age:
            if max_age >= self.stale_ttl:
                self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        for tag in entry[4]:
            keys = self._by_tag.get(tag)
            if keys is not None:
                keys.pop(key, None)
                if not keys:
                    del self._by_tag[tag]

    def _forget_old_invalidations(self, now: float) -> None:
        if len(self._invalidated) < 4096:
            return
        horizon = now - _INVALIDATION_MEMORY
        self._invalidated = {tag: at for tag, at in self._invalidated.items() if at >= horizon}


def _key(section: str, request: Mapping[str, Any]) -> str:
    """``section`` and the request with its keys sorted: the same ask, the same key."""
    return f"{section} {orjson.dumps(request, option=orjson.OPT_SORT_KEYS).decode()}"
