"""Call analytics: figures computed by SQL on SQLite and PostgreSQL equal those derived here."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from statistics import mean
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from adapters.pbx.adapter import PbxAdapter
from adapters.pbx.callstore import CallAnalytics, CallFilter, CallStore
from bus.adapters import AdapterHost
from bus.adapters.registry import LoadedAdapter
from bus.api.app import create_app
from tests.conftest import BusFactory
from tests.pbx.callstore.conftest import ZONE, ended_call
from tests.pbx.conftest import ami_settings

AGENTS = ("2001", "2002", "2003")
QUEUES = ("support", "sales", None)
MONDAY = datetime(2024, 3, 11, tzinfo=UTC)


def sample_calls(count: int = 60, seed: int = 7) -> list[dict[str, Any]]:
    """Calls over two weeks at random hours, rung on random agents, some unanswered."""
    rng = random.Random(seed)
    calls = []
    for number in range(count):
        started = MONDAY + timedelta(days=rng.randrange(14), hours=rng.randrange(24),
                                     minutes=rng.randrange(60))
        targets = tuple(rng.sample(AGENTS, rng.randint(0, 3)))
        answered_by = rng.choice(targets) if targets and rng.random() < 0.7 else None
        disposition = ("answered" if answered_by
                       else rng.choice(("missed", "abandoned", "busy", "failed")))
        calls.append(ended_call(
            f"{1710000000 + number}.{number}", started, queue=rng.choice(QUEUES),
            caller=f"+7912{rng.randrange(10**7):07d}", targets=targets,
            answered_by=answered_by, ring=rng.randrange(1, 40) if targets else 0,
            talk=rng.randrange(10, 600), disposition=disposition))
    return calls


def started(call: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(call["started_at"].replace("Z", "+00:00"))


def expected_summary(calls: list[dict[str, Any]], operator: str | None = None
                     ) -> dict[str, Any]:
    zone = ZoneInfo(ZONE)
    hours = Counter(started(c).astimezone(zone).hour for c in calls)
    answered_hours = Counter(started(c).astimezone(zone).hour for c in calls
                             if c["disposition"] == "answered")
    days = Counter(started(c).astimezone(zone).isoweekday() for c in calls)
    rang = [c["ring_seconds"] for c in calls if c["ring_targets"]]
    talked = [c["talk_seconds"] for c in calls if c["disposition"] == "answered"]
    people = [operator] if operator else sorted({a for c in calls for a in c["ring_targets"]})
    operators = []
    for agent in people:
        took = [c for c in calls if c["answered_by_extension"] == agent]
        operators.append({
            "extension": agent, "answered": len(took),
            "missed": sum(1 for c in calls if agent in c["ring_targets"]
                          and c["disposition"] != "answered"),
            "rang": sum(1 for c in calls if agent in c["ring_targets"]), "placed": 0,
            "avg_talk_seconds": round(mean(c["talk_seconds"] for c in took), 1) if took else None,
            "avg_ring_seconds": round(mean(c["ring_seconds"] for c in took), 1) if took else None,
        })
    return {
        "calls": len(calls),
        "avg_ring_seconds": round(mean(rang), 1) if rang else None,
        "avg_talk_seconds": round(mean(talked), 1) if talked else None,
        "outcomes": {d: sum(1 for c in calls if c["disposition"] == d)
                     for d in ("answered", "missed", "abandoned", "busy", "failed")},
        "hourly": [hours[h] for h in range(24)],
        "hourly_answered": [answered_hours[h] for h in range(24)],
        "peak_hours": sorted((h for h in hours), key=lambda h: (-hours[h], h))[:3],
        "weekdays": [days[d] for d in range(1, 8)],
        "operators": operators,
    }


def figures(summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "calls": summary["durations"]["calls"],
        "avg_ring_seconds": summary["durations"]["avg_ring_seconds"],
        "avg_talk_seconds": summary["durations"]["avg_talk_seconds"],
        "outcomes": summary["outcomes"],
        "hourly": summary["by_hour"]["series"]["calls"],
        "hourly_answered": summary["by_hour"]["series"]["answered"],
        "peak_hours": summary["by_hour"]["peak_hours"],
        "weekdays": summary["by_weekday"]["series"]["calls"],
        "operators": summary["operators"],
    }


def test_analytics_figures_equal_those_derived_from_the_calls(store: CallStore) -> None:
    calls = sample_calls()
    for number, call in enumerate(calls):
        store.record(call, f"m{number}")
    analytics = CallAnalytics(store.engine, store.zone)
    week_two = MONDAY + timedelta(days=7)

    everything = analytics.summary(CallFilter())
    support = analytics.summary(CallFilter(queue="support"))
    second_week = analytics.summary(CallFilter(since=week_two))
    agent = analytics.summary(CallFilter(operator="2002", until=week_two))

    assert figures(everything) == expected_summary(calls)
    assert figures(support) == expected_summary([c for c in calls if c["queue"] == "support"])
    assert figures(second_week) == expected_summary(
        [c for c in calls if started(c) >= week_two])
    assert figures(agent) == expected_summary(
        [c for c in calls if started(c) < week_two
         and "2002" in (*c["ring_targets"], c["answered_by_extension"])], operator="2002")
    assert everything["by_hour"]["labels"][0] == "00"
    assert everything["by_weekday"]["labels"][0] == "Mon"


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_the_pbx_adapter_serves_analytics_and_recent_calls_over_http(
    make_bus: BusFactory,
) -> None:
    bus = await make_bus(start=False)
    adapter = PbxAdapter(ami_settings(5038, calls_timezone=ZONE), bus)
    calls = sample_calls(20, seed=3)
    for number, call in enumerate(calls):
        adapter.call_store.record(call, f"m{number}")
    host = AdapterHost(bus, [LoadedAdapter("pbx", PbxAdapter, instance=adapter)])
    app = create_app(bus, host)
    newest = max(calls, key=started)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://esb") as client:
        summary = await client.get("/v1/adapters/pbx/analytics",
                                   params={"queue": "sales"})
        hourly = await client.get("/v1/adapters/pbx/analytics/hourly")
        operators = await client.get("/v1/adapters/pbx/analytics/operators",
                                     params={"operator": "2001"})
        recent = await client.get("/v1/adapters/pbx/calls",
                                  params={"phone": newest["caller_number"], "limit": 1})
        bad = await client.get("/v1/adapters/pbx/analytics", params={"operator": "x"})

    assert summary.status_code == 200, summary.text
    sales = [c for c in calls if c["queue"] == "sales"]
    assert figures(summary.json()) == expected_summary(sales)
    assert hourly.json()["series"]["calls"] == expected_summary(calls)["hourly"]
    assert operators.json()["operators"] == expected_summary(
        [c for c in calls if "2001" in c["ring_targets"]], operator="2001")["operators"]
    assert recent.json() == {"calls": [newest]}
    assert bad.status_code == 422
