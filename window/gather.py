"""Scatter-gather over the bus: every backend asked in parallel, each with its deadline.

The backends whose key is known are asked at once; when an answer brings new
keys (the synchronizer's xref names the CRM and billing records), the backends
still waiting for a key are asked then, with what is left of their deadline.
Deadlines count from the start of the view, so the view never takes longer
than the largest one, and a slow or dead backend only costs its own section.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bus.delivery.lane import Lane
from bus.delivery.rpc import RemoteError
from bus.errors import EsbError, RequestTimeout
from window.backends import BACKENDS, Backend, reply_fault
from window.cache import AnswerCache, CachedAnswer
from window.identity import Identity
from window.settings import WindowSettings

__all__ = ["Answer", "Gatherer", "Requester", "Status"]

Status = Literal["fresh", "cached", "unavailable"]
Requester = Callable[[str, Mapping[str, Any], float], Awaitable[Mapping[str, Any]]]
"""Sends a request of a type with a payload and a timeout; returns the reply's payload."""

log = logging.getLogger(__name__)

_MIN_TIMEOUT = 0.005
_TYPICAL_WEIGHT = 0.1
"""How much one answer moves a section's usual answer time."""


@dataclass(frozen=True, slots=True)
class Answer:
    """One section's outcome."""

    backend: Backend
    status: Status
    payload: Mapping[str, Any] | None = None
    reason: str | None = None
    age: float | None = None
    fetched_at: float | None = None
    elapsed: float | None = None
    request: Mapping[str, Any] | None = None
    learned: Identity | None = None
    """The customer's keys this answer names."""

    @property
    def usable(self) -> bool:
        return self.payload is not None


class Gatherer:
    def __init__(self, requester: Requester, cache: AnswerCache, settings: WindowSettings,
                 backends: tuple[Backend, ...] = BACKENDS) -> None:
        self.requester = requester
        self.cache = cache
        self.settings = settings
        self.backends = backends
        self._typical: dict[str, float] = {}
        """Each section's usual answer time (a moving average of its fresh answers)."""

    async def gather(self, identity: Identity, *, sections: tuple[str, ...] | None = None,
                     use_cache: bool = True) -> dict[str, Answer]:
        """Ask every backend of ``sections`` (all by default); ``identity`` grows as they answer."""
        started = time.monotonic()
        wanted = [b for b in self.backends if sections is None or b.section in sections]
        answers: dict[str, Answer] = {}
        pending: dict[str, asyncio.Task[None]] = {}
        # Each ask puts its answer here itself as it ends: the gather wakes one loop turn
        # after the reply, not three (a done callback, then a lane, then the gather).
        finished = Lane[Answer]()
        try:
            while True:
                self._launch(wanted, identity, answers, pending, started, use_cache,
                             finished.put)
                if not pending:
                    break
                for answer in await finished.taken():
                    backend = answer.backend
                    del pending[backend.section]
                    answers[backend.section] = answer
                    if answer.payload is not None:
                        identity.merge(answer.learned or backend.learn(answer.payload))
        finally:
            for task in pending.values():
                task.cancel()
        for backend in wanted:
            if backend.section not in answers:
                answers[backend.section] = Answer(
                    backend, "unavailable",
                    reason=f"no key to ask {backend.system} by: needs {backend.needs}")
        return {b.section: answers[b.section] for b in wanted}

    def _launch(self, wanted: list[Backend], identity: Identity, answers: dict[str, Answer],
                pending: dict[str, asyncio.Task[None]], started: float,
                use_cache: bool, report: Callable[[Answer], object]) -> None:
        """Ask each backend not yet asked whose key is known; cached answers may add keys.
        The one that usually answers last is asked first (see :meth:`_ask_and_report`)."""
        to_ask: list[tuple[Backend, list[dict[str, Any]]]] = []
        asking: set[str] = set()
        launched = True
        while launched:
            launched = False
            for backend in wanted:
                section = backend.section
                if section in answers or section in pending or section in asking:
                    continue
                requests = backend.ask(identity, self.settings)
                if not requests:
                    continue
                launched = True
                hit = self._cached(backend, requests, self.cache.get) if use_cache else None
                if hit is not None:
                    answer = answers[section] = self._from_cache(backend, *hit, None)
                    assert answer.payload is not None
                    identity.merge(backend.learn(answer.payload))
                    continue
                to_ask.append((backend, requests))
                asking.add(section)
        to_ask.sort(key=lambda asked: -self._typical.get(asked[0].section, 0.0))
        for turn, (backend, requests) in enumerate(to_ask):
            remaining = self.settings.deadlines.of(backend.section) - (
                time.monotonic() - started)
            pending[backend.section] = asyncio.create_task(
                self._ask_and_report(backend, requests, remaining, report, later=turn > 0),
                name=f"window-{backend.section}")

    async def _ask_and_report(self, backend: Backend, requests: list[dict[str, Any]],
                              timeout: float, report: Callable[[Answer], object], *,
                              later: bool = False) -> None:
        """Ask, then hand the answer over; a bug in reading one backend's reply costs
        only its section.

        ``later``: not the view's slowest backend, so it waits one loop turn before it
        asks. When many views start at once (a burst of calls), each view's slowest
        request is then sent before any view's quicker ones, instead of the last view's
        slowest request waiting behind every other view's five: a view takes as long as
        its slowest answer, and the quicker ones have time to spare."""
        if later:
            await asyncio.sleep(0)
        try:
            answer = await self._ask(backend, requests, timeout)
        except Exception as error:
            log.exception("window: reading the %s answer failed", backend.system)
            answer = Answer(backend, "unavailable",
                            reason=f"internal error: {type(error).__name__}")
        report(answer)

    async def _ask(self, backend: Backend, requests: list[dict[str, Any]],
                   timeout: float) -> Answer:
        asked_at = time.monotonic()
        request = requests[0]
        if timeout < _MIN_TIMEOUT:
            return self._unavailable(
                backend, requests, f"the {backend.system} deadline passed before its key was known")
        try:
            reply = await self.requester(backend.request_type, request, timeout)
        except RequestTimeout:
            return self._unavailable(backend, requests,
                                     f"{backend.system} did not answer within {timeout:.2f}s")
        except RemoteError as error:
            return self._unavailable(backend, requests, f"{backend.system} failed: {error}")
        except EsbError as error:
            return self._unavailable(backend, requests, f"{backend.system}: {error.reason}")
        elapsed = time.monotonic() - asked_at
        typical = self._typical.get(backend.section)
        self._typical[backend.section] = (
            elapsed if typical is None else typical + _TYPICAL_WEIGHT * (elapsed - typical))
        fault = reply_fault(reply)
        if fault is not None and fault[0] != "not_found":
            return self._unavailable(backend, requests,
                                     f"{backend.system} answered {fault[0]}: {fault[1]}")
        learned = backend.learn(reply)
        tags = _request_tags(backend, request) | backend.tags(reply) | learned.tags()
        self.cache.put(backend.section, request, reply, tags, asked_at=asked_at)
        return Answer(backend, "fresh", payload=reply, age=0.0, fetched_at=time.time(),
                      elapsed=elapsed, request=request, learned=learned)

    def _unavailable(self, backend: Backend, requests: list[dict[str, Any]],
                     reason: str) -> Answer:
        stale = self._cached(backend, requests, self.cache.get_stale)
        if stale is not None:
            return self._from_cache(backend, *stale, reason)
        return Answer(backend, "unavailable", reason=reason, request=requests[0])

    @staticmethod
    def _cached(backend: Backend, requests: list[dict[str, Any]],
                get: Callable[[str, Mapping[str, Any]], CachedAnswer | None],
                ) -> tuple[CachedAnswer, Mapping[str, Any]] | None:
        """The first cached answer to any of the requests ``backend`` could be asked with."""
        for request in requests:
            entry = get(backend.section, request)
            if entry is not None:
                return entry, request
        return None

    def _from_cache(self, backend: Backend, cached: CachedAnswer,
                    request: Mapping[str, Any], reason: str | None) -> Answer:
        return Answer(backend, "cached", payload=cached.payload, reason=reason,
                      age=cached.age(self.cache.clock()), fetched_at=cached.fetched_wall,
                      request=request)


def _request_tags(backend: Backend, request: Mapping[str, Any]) -> set[str]:
    """The keys a request names, as cache tags (``phone:…``, ``inn:…``, ``crm:…``)."""
    tags: set[str] = set()
    for name, value in request.items():
        if name == "customer_id":
            tags.add(f"{backend.system}:{value}")
        elif name in ("phone", "inn"):
            tags.add(f"{name}:{value}")
        elif name == "account_number":
            tags.add(f"account:{value}")
        elif name == "golden_id":
            tags.add(f"golden:{value}")
        elif name == "record" and isinstance(value, Mapping):
            tags.add(f"{value['system']}:{value['id']}")
    return tags
