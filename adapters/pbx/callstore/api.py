"""HTTP: call analytics and recent calls, mounted under the PBX adapter's routes.

``GET .../analytics`` (everything), ``.../analytics/hourly``, ``/weekdays``, ``/outcomes``,
``/operators``, ``/durations``; each takes ``since``, ``until``, ``queue``, ``operator``.
``GET .../calls?phone=+7...`` or ``?extension=2001`` lists recent calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from adapters.pbx.callstore.analytics import CallAnalytics, CallFilter
from adapters.pbx.callstore.store import DEFAULT_LIMIT, CallStore

__all__ = ["analytics_routes"]


def _filter(
    since: Annotated[datetime | None, Query(description="calls started at or after")] = None,
    until: Annotated[datetime | None, Query(description="calls started before")] = None,
    queue: Annotated[str | None, Query(max_length=256)] = None,
    operator: Annotated[str | None, Query(pattern=r"^[0-9]{2,10}$")] = None,
) -> CallFilter:
    return CallFilter(since=since, until=until, queue=queue, operator=operator)


Filter = Annotated[CallFilter, Depends(_filter)]


def analytics_routes(store: CallStore) -> APIRouter:
    analytics = CallAnalytics(store.engine, store.zone)
    routes = APIRouter(tags=["pbx analytics"])

    async def run(query: Callable[[CallFilter], Any], where: CallFilter) -> Any:
        return await asyncio.to_thread(query, where)

    @routes.get("/analytics")
    async def summary(where: Filter) -> dict[str, Any]:
        """All figures: durations, outcomes, per hour, per weekday, per operator."""
        result: dict[str, Any] = await run(analytics.summary, where)
        return result

    @routes.get("/analytics/hourly")
    async def hourly(where: Filter) -> dict[str, Any]:
        """Calls per hour of day, answered and not, and the peak hours."""
        result: dict[str, Any] = await run(analytics.by_hour, where)
        return result

    @routes.get("/analytics/weekdays")
    async def weekdays(where: Filter) -> dict[str, Any]:
        """Calls per weekday (Mon..Sun), answered and not."""
        result: dict[str, Any] = await run(analytics.by_weekday, where)
        return result

    @routes.get("/analytics/outcomes")
    async def outcomes(where: Filter) -> dict[str, int]:
        """Calls per disposition."""
        result: dict[str, int] = await run(analytics.outcomes, where)
        return result

    @routes.get("/analytics/durations")
    async def durations(where: Filter) -> dict[str, Any]:
        """Average ring and talk time."""
        result: dict[str, Any] = await run(analytics.durations, where)
        return result

    @routes.get("/analytics/operators")
    async def operators(where: Filter) -> dict[str, Any]:
        """Per operator: answered, missed, rang, placed, average talk and ring time."""
        return {"operators": await run(analytics.operators, where)}

    @routes.get("/calls")
    async def recent(
        phone: Annotated[str | None, Query(pattern=r"^\+[1-9][0-9]{6,14}$")] = None,
        extension: Annotated[str | None, Query(pattern=r"^[0-9]{2,10}$")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = DEFAULT_LIMIT,
    ) -> dict[str, Any]:
        """Recent ended calls of a phone or an agent, newest first."""
        if (phone is None) == (extension is None):
            raise HTTPException(422, "give exactly one of phone and extension")
        found = await asyncio.to_thread(store.recent, phone=phone, extension=extension,
                                        limit=limit)
        return {"calls": found}

    return routes
