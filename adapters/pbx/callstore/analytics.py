"""Call analytics over the call store: ``GROUP BY`` queries shaped for charts.

Every figure is computed by the database (SQLite or PostgreSQL, same SQL):

* calls per hour of day and per weekday (in the store's time zone) with the peak hours;
* outcomes: calls per disposition;
* average ring time (calls that rang an agent) and talk time (answered calls);
* per operator: ``answered`` (calls they answered), ``missed`` (calls that rang on their
  phone and nobody answered), ``rang`` (calls that rang on their phone), ``placed``
  (outbound calls they made), their average talk and ring time on answered calls.

Filters: a period (``since`` inclusive, ``until`` exclusive, on the call's start), a queue,
an operator (only calls the operator took part in).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from adapters.pbx.callstore.rows import epoch_us
from adapters.pbx.callstore.tables import call_participants, calls

__all__ = ["DISPOSITIONS", "WEEKDAYS", "CallAnalytics", "CallFilter"]

DISPOSITIONS = ("answered", "missed", "abandoned", "busy", "failed")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
PEAK_HOURS = 3

_ANSWERED = sa.case((calls.c.disposition == "answered", 1), else_=0)


@dataclass(frozen=True, slots=True)
class CallFilter:
    since: datetime | None = None
    until: datetime | None = None
    queue: str | None = None
    operator: str | None = None

    def clauses(self, zone: ZoneInfo, table: sa.Table = calls) -> list[sa.ColumnElement[bool]]:
        """The WHERE of ``table`` (the calls, or the participants: one row per agent)."""
        where: list[sa.ColumnElement[bool]] = []
        if self.since is not None:
            where.append(table.c.started_us >= epoch_us(_aware(self.since, zone)))
        if self.until is not None:
            where.append(table.c.started_us < epoch_us(_aware(self.until, zone)))
        if self.queue is not None:
            where.append(table.c.queue == self.queue)
        if self.operator is not None and table is call_participants:
            where.append(call_participants.c.extension == self.operator)
        elif self.operator is not None:
            where.append(calls.c.linkedid.in_(
                sa.select(call_participants.c.linkedid)
                .where(call_participants.c.extension == self.operator)))
        return where

    def to_json(self) -> dict[str, Any]:
        return {"since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None,
                "queue": self.queue, "operator": self.operator}


def _aware(moment: datetime, zone: ZoneInfo) -> datetime:
    """A datetime without an offset is taken in the analytics time zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def _number(value: Any) -> int:
    return int(value or 0)


def _average(value: Any) -> float | None:
    if value is None:
        return None
    return round(float(value), 1)  # PostgreSQL: Decimal, SQLite: float


class CallAnalytics:
    def __init__(self, engine: sa.Engine, zone: ZoneInfo) -> None:
        self.engine = engine
        self.zone = zone

    def _rows(self, query: sa.Select[Any]) -> list[tuple[Any, ...]]:
        with self.engine.connect() as db:
            return [tuple(row) for row in db.execute(query)]

    def by_hour(self, where: CallFilter) -> dict[str, Any]:
        query = (sa.select(calls.c.local_hour, sa.func.count(), sa.func.sum(_ANSWERED))
                 .where(*where.clauses(self.zone)).group_by(calls.c.local_hour))
        total, answered = [0] * 24, [0] * 24
        for hour, count, took in self._rows(query):
            total[hour], answered[hour] = _number(count), _number(took)
        busiest = sorted((h for h in range(24) if total[h]), key=lambda h: (-total[h], h))
        return {"labels": [f"{h:02d}" for h in range(24)],
                "series": {"calls": total, "answered": answered,
                           "unanswered": [t - a for t, a in zip(total, answered, strict=True)]},
                "peak_hours": busiest[:PEAK_HOURS]}

    def by_weekday(self, where: CallFilter) -> dict[str, Any]:
        query = (sa.select(calls.c.local_weekday, sa.func.count(), sa.func.sum(_ANSWERED))
                 .where(*where.clauses(self.zone)).group_by(calls.c.local_weekday))
        total, answered = [0] * 7, [0] * 7
        for weekday, count, took in self._rows(query):
            total[weekday - 1], answered[weekday - 1] = _number(count), _number(took)
        return {"labels": list(WEEKDAYS),
                "series": {"calls": total, "answered": answered,
                           "unanswered": [t - a for t, a in zip(total, answered, strict=True)]}}

    def outcomes(self, where: CallFilter) -> dict[str, int]:
        query = (sa.select(calls.c.disposition, sa.func.count())
                 .where(*where.clauses(self.zone)).group_by(calls.c.disposition))
        counts = dict.fromkeys(DISPOSITIONS, 0)
        for disposition, count in self._rows(query):
            counts[disposition] = _number(count)
        return counts

    def durations(self, where: CallFilter) -> dict[str, Any]:
        rang = sa.case((calls.c.ring_targets > 0, calls.c.ring_seconds))
        talked = sa.case((calls.c.disposition == "answered", calls.c.talk_seconds))
        query = (sa.select(sa.func.count(), sa.func.avg(rang), sa.func.avg(talked))
                 .where(*where.clauses(self.zone)))
        [(count, ring, talk)] = self._rows(query)
        return {"calls": _number(count), "avg_ring_seconds": _average(ring),
                "avg_talk_seconds": _average(talk)}

    def operators(self, where: CallFilter) -> list[dict[str, Any]]:
        people = call_participants
        on_answered = people.c.answered == 1
        query = (sa.select(people.c.extension, sa.func.sum(people.c.answered),
                           sa.func.sum(people.c.missed), sa.func.sum(people.c.rang),
                           sa.func.sum(people.c.placed),
                           sa.func.avg(sa.case((on_answered, people.c.talk_seconds))),
                           sa.func.avg(sa.case((on_answered, people.c.ring_seconds))))
                 .where(*where.clauses(self.zone, people))
                 .group_by(people.c.extension).order_by(people.c.extension))
        return [{"extension": extension, "answered": _number(answered),
                 "missed": _number(missed), "rang": _number(rang),
                 "placed": _number(placed), "avg_talk_seconds": _average(talk),
                 "avg_ring_seconds": _average(ring)}
                for extension, answered, missed, rang, placed, talk, ring in self._rows(query)]

    def summary(self, where: CallFilter) -> dict[str, Any]:
        """Everything above in one document."""
        return {"filters": where.to_json(), "timezone": self.zone.key,
                "durations": self.durations(where), "outcomes": self.outcomes(where),
                "by_hour": self.by_hour(where), "by_weekday": self.by_weekday(where),
                "operators": self.operators(where)}
