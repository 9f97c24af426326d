"""The answer cache: TTL, stale answers, invalidation by tags, answers older than a change."""

from __future__ import annotations

from window.cache import AnswerCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def cache_with(clock: Clock) -> AnswerCache:
    return AnswerCache(ttl=30, stale_ttl=600, size=3, clock=clock)


ASK = {"phone": "+79123456789", "include_services": True}
REPLY = {"accounts": [{"number": "100245"}]}


def test_an_answer_is_served_within_its_ttl_with_its_age() -> None:
    clock = Clock()
    cache = cache_with(clock)
    cache.put("billing", ASK, REPLY, {"account:100245"}, asked_at=clock.now)

    clock.now += 12
    entry = cache.get("billing", dict(reversed(list(ASK.items()))))  # key order does not matter

    assert entry is not None and entry.payload == REPLY and entry.age(clock.now) == 12
    clock.now += 20
    assert cache.get("billing", ASK) is None
    assert cache.get_stale("billing", ASK) is not None  # shown only when billing is down
    clock.now += 600
    assert cache.get_stale("billing", ASK) is None


def test_a_change_drops_answers_with_its_tag_in_its_sections_only() -> None:
    clock = Clock()
    cache = cache_with(clock)
    cache.put("billing", ASK, REPLY, {"account:100245", "phone:+79123456789"},
              asked_at=clock.now)
    cache.put("crm", {"phone": "+79123456789"}, {"card": None}, {"phone:+79123456789"},
              asked_at=clock.now)

    assert cache.invalidate({"account:100245"}, {"billing"}) == 1
    assert cache.get("billing", ASK) is None
    assert cache.get_stale("billing", ASK) is None  # invalidated answers are never shown
    assert cache.get("crm", {"phone": "+79123456789"}) is not None
    assert cache.invalidate({"phone:+79123456789"}, None) == 1
    assert len(cache) == 0


def test_an_answer_asked_before_a_change_is_not_kept() -> None:
    clock = Clock()
    cache = cache_with(clock)
    asked_at = clock.now
    clock.now += 0.05
    cache.invalidate({"account:100245"})  # the balance changed while billing was answering

    assert cache.put("billing", ASK, REPLY, {"account:100245"}, asked_at=asked_at) is False
    assert cache.get("billing", ASK) is None
    clock.now += 0.01  # asked again after the change: kept
    assert cache.put("billing", ASK, REPLY, {"account:100245"}, asked_at=clock.now) is True


def test_the_least_recently_used_answer_goes_first_when_full() -> None:
    clock = Clock()
    cache = cache_with(clock)
    for n in range(3):
        cache.put("calls", {"phone": f"+7912000000{n}"}, {"calls": []}, set(), asked_at=0)
    assert cache.get("calls", {"phone": "+79120000000"}) is not None  # touched

    cache.put("calls", {"phone": "+79120000009"}, {"calls": []}, set(), asked_at=0)

    assert cache.get("calls", {"phone": "+79120000001"}) is None
    assert cache.get("calls", {"phone": "+79120000000"}) is not None
    assert len(cache) == 3
