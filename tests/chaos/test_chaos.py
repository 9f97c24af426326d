"""The chaos proof: mixed traffic through real processes while they die, the broker
restarts and the CRM answers slowly; afterwards nothing is lost and nothing happened twice.

The default suite runs the short plan (a few thousand messages, two SIGKILLs, one
RabbitMQ restart); ``make chaos`` (``CHAOS_FULL=1``) runs the full one. The seed
is random per run and printed with the fault log, so a failure can be replayed
with ``CHAOS_SEED``.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.faults import ensure_broker_up, settled
from tests.chaos.harness import Chaos
from tests.chaos.plan import ChaosPlan, Traffic
from tests.esb_processes import eventually
from tests.services import require_postgres, require_rabbitmq

pytestmark = [pytest.mark.chaos, pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.slow]

FULL = os.environ.get("CHAOS_FULL") == "1"
SEED = int(os.environ.get("CHAOS_SEED") or random.randrange(1_000_000))
PLAN = ChaosPlan.full(SEED) if FULL else ChaosPlan.short(SEED)
DRAIN_TIMEOUT = 900.0 if FULL else 90.0


@pytest.fixture
def chaos(tmp_path: Path) -> Iterator[Chaos]:
    broker, database = require_rabbitmq(), require_postgres()
    ensure_broker_up()
    run = Chaos(tmp_path, broker, database, PLAN)
    try:
        run.start()
        yield run
    finally:
        run.stop()  # ends with RabbitMQ running, even after a failure


def drive(chaos: Chaos) -> tuple[Traffic, Counter[str]]:
    """Publish the traffic and ask the billing while the faults happen, until they end."""
    envelopes = chaos.traffic()

    async def traffic_and_requests() -> tuple[int, Counter[str]]:
        asking = asyncio.create_task(chaos.ask_billing(chaos.faults_over))
        resent = await chaos.publish(envelopes)
        return resent, await asking

    with chaos.faults_during_traffic():
        resent, billing = asyncio.run(traffic_and_requests())
    work = [e for e in envelopes if e.type != "pbx.call.ended.v1"]
    return Traffic(
        work=frozenset(e.id for e in work),
        poison=frozenset(e.id for e in work if e.payload["poison"] == "yes"),
        calls=frozenset(str(e.payload["linkedid"]) for e in envelopes
                        if e.type == "pbx.call.ended.v1"),
        published_twice=resent), billing


@pytest.mark.timeout(1500 if FULL else 170)
def test_nothing_is_lost_or_done_twice_while_workers_die_and_the_broker_restarts(
    chaos: Chaos,
) -> None:
    began = time.monotonic()
    traffic, billing = drive(chaos)
    done = traffic.work - traffic.poison
    log = f"seed {SEED}, faults:\n{chaos.faults.table()}"

    # Drained: every good message took effect, every poison one is dead-lettered,
    # every call is in the CRM.
    eventually(lambda: len(chaos.effects()) >= len(done), DRAIN_TIMEOUT, 0.5)
    eventually(lambda: len(chaos.dead_letters()) >= len(traffic.poison), DRAIN_TIMEOUT, 0.5)
    eventually(lambda: len(chaos.crm_ledger()["created"]) >= len(traffic.calls),
               DRAIN_TIMEOUT, 0.5)
    time.sleep(2.0)  # a late duplicate would show now
    drained = time.monotonic() - began

    assert chaos.faults.count("sigkill-worker") == PLAN.kills, log
    assert chaos.faults.count("rabbitmq-restart") == PLAN.broker_restarts, log
    assert chaos.faults.count("crm-slow") == 1, log
    assert chaos.faults.count("billing-down") == 1, log

    # The billing's outage was answered (unavailable, or a deadline), never hung, and
    # the billing answers again once it is back.
    assert billing["ok"] > 0, billing
    assert billing["unavailable"] + billing["timeout"] > 0, f"the outage went unseen: {billing}"
    recovery = asyncio.run(chaos.billing_recovers(30.0))
    assert recovery[-1:] == ["ok"], f"the billing never answered again: {recovery}"

    # Exactly once, or dead-lettered with a reason.
    effects = chaos.effects()
    assert set(effects) == done, f"lost {len(done - set(effects))}, foreign " \
        f"{len(set(effects) - done)}; {log}"
    twice = {message_id: n for message_id, n in effects.items() if n > 1}
    assert not twice, f"{len(twice)} messages took effect more than once; {log}"
    letters = chaos.dead_letters()
    assert {letter.message_id for letter in letters} == traffic.poison, log
    assert len(letters) == len(traffic.poison), "a poison message was dead-lettered twice"
    assert all("poison message refused" in letter.reason for letter in letters), \
        {letter.reason for letter in letters}
    assert chaos.journaled(traffic.work) == len(traffic.work), "the journal misses messages"

    # No duplicate side effect in the CRM: each call created once.
    ledger = chaos.crm_ledger()
    created = ledger["created"]
    assert len(created) == len(traffic.calls), f"{len(created)} of {len(traffic.calls)} calls"
    assert set(created.values()) == {1}, "a call was logged twice in the CRM"
    assert ledger["interactions"] == len(traffic.calls)

    # Every dead letter replays cleanly: once refusals stop, each takes effect once.
    chaos.stop_refusing()
    replayed = chaos.replay_dead_letters()
    assert {letter.message_id for letter in replayed} == traffic.poison
    eventually(lambda: set(chaos.effects()) == traffic.work, 60.0, 0.5)
    time.sleep(1.0)
    assert set(chaos.effects().values()) == {1}, "a replayed message took effect twice"
    assert not chaos.dead_letters("dead"), "a replayed message was dead-lettered again"

    # No queue is left holding a message, acknowledged or not.
    depths = eventually(lambda: settled(chaos.run), 30.0, 1.0)
    assert all(unacked == 0 for _, unacked in depths.values()), depths

    shares = chaos.effects_per_worker()
    print(f"\nchaos: {len(traffic.work)} work messages + {len(traffic.calls)} calls, "
          f"{len(traffic.poison)} dead-lettered and replayed, "
          f"{traffic.published_twice} batches re-published, drained in {drained:.1f} s, "
          f"lost 0, duplicates 0; per worker {shares}; billing requests {dict(billing)}"
          f"\n{log}")
