"""The chaos proof: mixed traffic through real processes while they die, the broker
restarts, the billing is down, the CRM answers slowly and the AMI connection is cut;
afterwards nothing is lost, nothing happened twice, and the synchronizer's xref is
the one a fault-free run makes of the same input.

The default suite runs the short plan (a few thousand messages, two SIGKILLs, one
RabbitMQ restart); ``make chaos`` (``CHAOS_FULL=1``) runs the full one, and
``CHAOS_MESSAGES=N`` (with ``CHAOS_FULL=1``) the full one's faults over ``N`` work
messages. The seed is random per run and printed with the fault log, so a failure
can be replayed with ``CHAOS_SEED``.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from adapters.crm.mapping import interaction_id
from tests.chaos.backend_requests import Views, ask_billing, billing_recovers, views
from tests.chaos.faults import ensure_broker_up, settled
from tests.chaos.harness import Chaos
from tests.chaos.plan import ChaosPlan, Traffic
from tests.chaos.sync_traffic import partition, reference_xref, xref_and_links
from tests.chaos.traffic import mixed, publish, view_queries
from tests.esb_processes import eventually
from tests.services import require_postgres, require_rabbitmq

pytestmark = [pytest.mark.chaos, pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.slow]

FULL = os.environ.get("CHAOS_FULL") == "1"
SEED = int(os.environ.get("CHAOS_SEED") or random.randrange(1_000_000))
PLAN = ChaosPlan.full(SEED) if FULL else ChaosPlan.short(SEED)
if FULL and os.environ.get("CHAOS_MESSAGES"):
    PLAN = PLAN.scaled(int(os.environ["CHAOS_MESSAGES"]))
if os.environ.get("CHAOS_BROKER_RESTARTS"):  # 0 while others share the broker
    PLAN = replace(PLAN, broker_restarts=int(os.environ["CHAOS_BROKER_RESTARTS"]))
DRAIN_TIMEOUT = 900.0 if FULL else 90.0
TIMEOUT = float(os.environ.get("CHAOS_TIMEOUT") or (1200 if FULL else 170))
"""The whole test's limit: 20 minutes for the full run, 3 for the short (less set-up)."""


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


def drive(chaos: Chaos) -> tuple[Traffic, Counter[str], Views]:
    """Publish the traffic, ask the billing and open unified views while the faults
    happen, until they end; then no new AMI call."""
    envelopes = mixed(PLAN, chaos.random, chaos.sync_events)

    async def traffic_and_requests() -> tuple[int, Counter[str], Views]:
        asking = asyncio.create_task(ask_billing(
            chaos.settings(f"{chaos.run}-requester"), chaos.faults_over))
        viewing = asyncio.create_task(views(
            chaos.settings(f"{chaos.run}-window"), view_queries(chaos.sync_events),
            PLAN.views_per_second, chaos.faults_over))
        resent = await publish(chaos.settings(f"{chaos.run}-publisher"), envelopes,
                               PLAN.traffic_seconds, chaos.faults.started)
        return resent, await asking, await viewing

    with chaos.faults_during_traffic():
        resent, billing, seen = asyncio.run(traffic_and_requests())
    if chaos.pbx is not None:
        chaos.pbx.settle()
        chaos.pbx.stop_calls()
    work = [e for e in envelopes if e.type == "test.thing.happened.v1"]
    return Traffic(
        work=frozenset(e.id for e in work),
        poison=frozenset(e.id for e in work if e.payload["poison"] == "yes"),
        calls=frozenset(str(e.payload["linkedid"]) for e in envelopes
                        if e.type == "pbx.call.ended.v1"),
        published_twice=resent), billing, seen


def wait_until(deadline: float, *drained: Callable[[], bool]) -> None:
    """Until each of ``drained`` holds in turn, or the (monotonic) deadline passes."""
    for probe in drained:
        while not probe() and time.monotonic() < deadline:
            time.sleep(0.5)


@pytest.mark.timeout(TIMEOUT)
def test_nothing_is_lost_or_done_twice_while_workers_die_and_the_broker_restarts(
    chaos: Chaos,
) -> None:
    began = time.monotonic()
    reference = reference_xref(chaos.sync_events, chaos.directory)  # no bus, no fault
    traffic, billing, seen = drive(chaos)
    done = traffic.work - traffic.poison
    ami = chaos.ami_calls()
    log = f"seed {SEED}, faults:\n{chaos.faults.table()}"

    # Drained: every good message took effect, every poison one is dead-lettered,
    # every call is in the CRM, the synchronizer has every record.
    expected = {interaction_id(linkedid) for linkedid in traffic.calls | ami.must_be_logged}
    wait_until(began + DRAIN_TIMEOUT + PLAN.traffic_seconds,
               lambda: len(chaos.effects()) >= len(done),
               lambda: len(chaos.dead_letters()) >= len(traffic.poison),
               lambda: chaos.crm_ledger()["created"].keys() >= expected,
               lambda: len(xref_and_links(chaos.engine).xref) >= len(reference.xref),
               lambda: sum(xref_and_links(chaos.engine).links.values())
               >= sum(reference.links.values()))
    time.sleep(2.0)  # a late duplicate would show now (a check below tells what is missing)
    drained = time.monotonic() - began

    kills = chaos.faults.count("sigkill-worker") + chaos.faults.count("sigkill-pbx")
    assert kills == PLAN.kills, log
    assert chaos.faults.count("sigkill-pbx") == PLAN.pbx_kills, log
    assert chaos.faults.count("rabbitmq-restart") == PLAN.broker_restarts, log
    assert chaos.faults.count("crm-slow") == 1, log
    assert chaos.faults.count("billing-down") == 1, log
    assert chaos.faults.count("ami-cut") == PLAN.ami_cuts, log

    # The billing's outage was answered (unavailable, or a deadline), never hung, and
    # the billing answers again once it is back.
    assert billing["ok"] > 0, billing
    assert billing["unavailable"] + billing["timeout"] > 0, f"the outage went unseen: {billing}"
    recovery = asyncio.run(billing_recovers(chaos.settings(f"{chaos.run}-after"), 30.0))
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
    changes = frozenset(e.id for e in chaos.sync_events)
    assert chaos.journaled(changes) == len(changes), "the journal misses sync changes"

    # No duplicate side effect in the CRM: each call created once, the AMI simulator's
    # too (a call in progress at a cut is rebuilt; one across a PBX worker's death, or
    # begun and ended while the adapter read nothing, may be missing: pbx_side.py).
    ledger = chaos.crm_ledger()
    created = ledger["created"]
    made = {interaction_id(linkedid) for linkedid in traffic.calls | ami.started}
    lost = sorted(expected - created.keys())
    assert not lost, f"{len(lost)} calls lost: {chaos.describe_calls(lost[:5])}; {log}"
    assert created.keys() <= made, f"calls nobody made: {sorted(created.keys() - made)[:5]}"
    assert set(created.values()) == {1}, "a call was logged twice in the CRM"
    assert ledger["interactions"] == len(created)
    assert PLAN.ami_rate == 0 or ami.must_be_logged, "no AMI call to check"

    # The synchronizer: the same xref as the fault-free run on the same input (the same
    # records linked together), and every record linked as often as there, never more.
    found = xref_and_links(chaos.engine)
    assert found.xref.keys() == reference.xref.keys(), "records missing from the xref"
    assert partition(found.xref) == partition(reference.xref), "the xref differs"
    assert found.links == reference.links, \
        f"links differ: {chaos.describe_links(found.links, reference.links)}"
    same_ids = found.xref == reference.xref

    # Every unified view came back, each section with a status, during every fault.
    assert PLAN.views_per_second == 0 or seen.count > 0, "no unified view was asked"
    assert seen.slowest < 10.0, f"a unified view took {seen.slowest:.1f} s"

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
    messages = len(traffic.work) + len(traffic.calls) + len(chaos.sync_events)
    print(f"\nchaos: {messages + chaos.pbx_published()} messages published: "
          f"{len(traffic.work)} work + {len(traffic.calls)} canonical calls + "
          f"{len(chaos.sync_events)} synchronizer changes + {chaos.pbx_published()} PBX events "
          f"of {len(ami.ended)} AMI calls ({ami.cut_mid_call} in progress at an AMI cut, "
          f"{len(ami.ended) - len(ami.must_be_logged)} excused: a PBX worker death, or "
          f"begun and ended while the adapter read nothing); "
          f"{len(traffic.poison)} dead-lettered and replayed, "
          f"{traffic.published_twice} batches re-published; lost 0, duplicates 0; "
          f"xref equal ({len(found.xref)} records, {len(partition(found.xref))} customers, "
          f"global ids {'identical' if same_ids else 'renamed'}); "
          f"{seen.count} unified views {seen.sections}, slowest {seen.slowest:.1f} s; "
          f"billing requests {dict(billing)}; per worker {shares}; "
          f"drained in {drained:.1f} s, total {time.monotonic() - chaos.created:.1f} s "
          f"with the set-up\n{log}")
