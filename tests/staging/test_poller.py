"""Staging rows published once and marked done, across restarts and between two pollers."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from tests.conftest import collector, eventually
from tests.staging.conftest import LegacyDatabase, StagingFactory, staging_settings

pytestmark = pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)


async def test_new_rows_are_published_once_and_bad_rows_marked_error(
    staging_on: StagingFactory, legacy: LegacyDatabase,
) -> None:
    legacy.add(1, 5)
    legacy.add(6, 1, balance="lots")
    legacy.add(7, 1, account_status="frozen")
    listener, received = collector("billing.account.changed.v1")
    _, adapter = await staging_on(staging_settings(legacy, batch_size=3), listener)

    await eventually(lambda: len(received) == 5
                     and all(s != "new" for s, _ in legacy.statuses().values()))
    statuses = legacy.statuses()
    assert {n: statuses[n][0] for n in range(1, 6)} == dict.fromkeys(range(1, 6), "done")
    assert statuses[6][0] == "error" and "balance: is not a number" in (statuses[6][1] or "")
    assert statuses[7][0] == "error" and "must be one of" in (statuses[7][1] or "")
    account = next(e.payload["account"] for e in received
                   if e.payload["account"]["number"] == "LS-00000002")
    assert account["balance"] == {"amount": "2.50", "currency": "RUB"}

    legacy.add(8, 2)  # later rows: only they are published
    await eventually(lambda: len(received) == 7)
    await asyncio.sleep(0.3)
    assert Counter(e.payload["account"]["number"] for e in received).most_common(1)[0][1] == 1
    assert adapter.poller.published == 7


async def test_a_crash_before_rows_are_marked_done_publishes_nothing_twice_after_restart(
    staging_on: StagingFactory, legacy: LegacyDatabase,
) -> None:
    legacy.add(1, 6)
    if legacy.url.startswith("sqlite"):
        legacy.execute(f"create trigger {legacy.table}_disk_full before update of status on "
                       f"{legacy.table} when new.status = 'done' and old.id = 5 "
                       "begin select raise(abort, 'disk full'); end")
    else:
        legacy.execute(f"create function {legacy.table}_full() returns trigger language plpgsql"
                       " as $$ begin raise exception 'disk full'; end $$")
        legacy.execute(f"create trigger disk_full before update on {legacy.table} for each row "
                       f"when (new.status = 'done' and old.id = 5) "
                       f"execute function {legacy.table}_full()")
    listener, received = collector("billing.account.changed.v1")
    settings = staging_settings(legacy, batch_size=4)
    _, first = await staging_on(settings, listener)

    # the batch with row 5 reaches our outbox, then its staging transaction fails
    await eventually(lambda: first.poller.last_error is not None
                     and "disk full" in first.poller.last_error)
    await first.stop()
    await eventually(lambda: len(received) == 6)
    statuses = legacy.statuses()
    assert [statuses[n][0] for n in range(1, 7)] == ["done"] * 4 + ["new", "new"]

    if legacy.url.startswith("sqlite"):
        legacy.execute(f"drop trigger {legacy.table}_disk_full")
    else:
        legacy.execute(f"drop trigger disk_full on {legacy.table}")
    _, second = await staging_on(settings)  # the restart
    await eventually(lambda: all(s == "done" for s, _ in legacy.statuses().values()))
    await asyncio.sleep(0.3)
    assert len(received) == 6
    assert second.poller.published == 0
