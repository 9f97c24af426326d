"""The chaos harness: real processes on one RabbitMQ and one PostgreSQL, and faults.

It starts the CRM and billing simulators as their own processes
(:mod:`tests.chaos.crm_process`), two ``esb run`` workers (competing consumers of
quorum queues) with the real CRM and billing adapters, the synchronizer and the
chaos work (:mod:`tests.chaos.chaos_worker`, installed through entry points), and
the telephony (:mod:`tests.chaos.pbx_side`: the AMI simulator and a third
``esb run`` with the PBX adapter). The run's state lives in its own PostgreSQL
schema and its queues carry its own prefix. It publishes mixed traffic from its
own bus, as other services would: ``test.thing.happened.v1`` work (1 % of it
poison), ``pbx.call.ended.v1`` calls the CRM adapter logs, and the CRM and billing
changes of a generated directory for the synchronizer, in order. Meanwhile a fault
thread SIGKILLs workers and the PBX worker (each restarted at once), restarts
RabbitMQ, kills the billing, slows the CRM and cuts the AMI connection, at seeded
random points, each recorded with its time.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pika
import sqlalchemy as sa

from bus import db as bus_db
from bus.delivery.dead_letters import DeadLetter, DeadLetterStore
from bus.delivery.outbox import outbox
from bus.journal import MESSAGES as JOURNAL
from bus.settings import Settings
from sync.model import RecordKey
from sync.store import create_tables as create_sync_tables
from tests.chaos.chaos_worker import EFFECTS, LINKED, REFUSALS, SUBSCRIPTION, create_tables
from tests.chaos.faults import RABBITMQ, FaultLog, ensure_broker_up, restart_broker
from tests.chaos.pbx_side import AmiCalls, PbxSide
from tests.chaos.plan import ChaosPlan
from tests.chaos.simulators import CRM_TOKEN, Simulators
from tests.chaos.sync_traffic import sync_changes
from tests.entry_points import write_distribution
from tests.esb_processes import ROOT, Deployment, EsbProcess

__all__ = ["Chaos"]



class Chaos:
    def __init__(self, directory: Path, broker: str, database: str, plan: ChaosPlan) -> None:
        self.directory = directory
        self.broker = broker
        self.run = f"c{uuid.uuid4().hex[:10]}"
        self.created = time.monotonic()
        self.server_database = database
        self.database = f"{database}?options=-csearch_path%3D{self.run}"
        """The run's own schema: its journal, dead letters, synchronizer and effects."""
        self.plan = plan
        self.random = random.Random(plan.seed)
        self.faults = FaultLog()
        self.engine = sa.create_engine(self.database)
        self.workers: dict[str, EsbProcess] = {}
        self.simulators = Simulators(directory)
        self._incarnations = 0
        self._pythonpath = self._install_plugin()
        self._lock = threading.Lock()
        self._restarts: list[threading.Thread] = []
        self.faults_over = threading.Event()
        self.pbx = (PbxSide(directory, plan.ami_rate, plan.seed, self.start_esb)
                    if plan.ami_rate > 0 else None)
        self.sync_events = (sync_changes(directory / "directory", plan.sync_customers,
                                         plan.seed % 10_000)
                            if plan.sync_customers else [])

    # -- processes ------------------------------------------------------------------------

    def _install_plugin(self) -> str:
        plugins = self.directory / "plugins"
        write_distribution(plugins, "esb-chaos-work", {
            "esb.adapters": {"chaos-work": "tests.chaos.chaos_worker:ChaosWorkAdapter"}})
        return os.pathsep.join([str(plugins), str(ROOT)])

    @property
    def crm(self) -> subprocess.Popen[str] | None:
        """The CRM simulator's process."""
        return self.simulators.crm

    def settings(self, instance: str) -> Settings:
        return Settings(broker_url=self.broker, database_url=self.database,
                        exchange=f"{self.run}.events", queue_prefix=self.run,
                        instance=instance, delivery={"quorum_queues": True})

    def start(self) -> None:
        self._admin(f'create schema "{self.run}"')
        bus_db.create_tables(self.engine)  # made once here: three processes would race
        create_sync_tables(self.engine)
        create_tables(self.engine)
        with self.engine.begin() as db:
            db.execute(REFUSALS.insert().values(run=self.run))
        self.simulators.start()
        if self.pbx is not None:
            self.pbx.start_simulator()  # its calls begin when the PBX worker logs in
        names = ("worker-a", "worker-b")
        threads = [threading.Thread(target=self.start_worker, args=(name,)) for name in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        missing = [name for name in names if name not in self.workers]
        assert not missing, f"workers did not start: {missing}"
        if self.pbx is not None:  # after the workers: their queues take its first calls
            self.pbx.start_worker()

    def _admin(self, statement: str) -> None:
        admin = sa.create_engine(self.server_database, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(sa.text(statement))
        finally:
            admin.dispose()

    def start_worker(self, name: str) -> None:
        """A bus worker: the chaos work, the CRM and billing adapters and the synchronizer,
        competing with the other."""
        self.workers[name] = self.start_esb(
            name, PYTHONPATH=self._pythonpath,
            ESB_SYNC__ENABLED="true" if self.sync_events else "false",
            ESB_CRM__URL=self.simulators.crm_url, ESB_CRM__TOKEN=CRM_TOKEN,
            ESB_CRM__TIMEOUT="5", ESB_BILLING__URL=self.simulators.billing_url,
            ESB_BILLING__PASSWORD="secret", ESB_BILLING__TIMEOUT="2", ESB_BILLING__FEED="false",
            ESB_BILLING__BREAKER_RESET="3")

    def start_esb(self, name: str, **env: str) -> EsbProcess:
        """An ``esb run`` of this run's bus (its exchange and queues), serving its API."""
        with self._lock:
            self._incarnations += 1
            incarnation = self._incarnations
        directory = self.directory / f"{name}-{incarnation}"
        directory.mkdir()
        deployment = Deployment.in_directory(directory)
        settings = {
            "ESB_BROKER_URL": self.broker, "ESB_DATABASE_URL": self.database,
            "ESB_EXCHANGE": f"{self.run}.events", "ESB_QUEUE_PREFIX": self.run,
            "ESB_INSTANCE": f"{self.run}-{name}",
            "ESB_DELIVERY__QUORUM_QUEUES": "true", "ESB_DELIVERY__PREFETCH": "50",
            "ESB_DELIVERY__RETRY_DELAYS": "[1,2,5]", "ESB_DELIVERY__MAX_ATTEMPTS": "20",
            "ESB_SYNC__ENABLED": "false", "ESB_WINDOW__ENABLED": "false",
            "ESB_CONSOLE__ENABLED": "false"}
        process = EsbProcess(deployment, "run", env=deployment.env(**{**settings, **env}))
        process.start(90.0)
        return process

    def kill_worker(self) -> None:
        """SIGKILL a running worker at random (no shutdown at all); it starts again in the
        background while the traffic and the other faults go on."""
        for restart in self._restarts:
            restart.join()  # never both workers down at once: a kill waits for the last
        name = self.random.choice(sorted(self.workers))
        worker = self.workers.pop(name)
        assert worker.process is not None
        began = time.monotonic()
        os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.wait(10)
        worker.stop()  # closes its log
        self.faults.record("sigkill-worker", f"{name} pid {worker.process.pid}", began)
        restart = threading.Thread(target=self.start_worker, args=(name,),
                                   name=f"restart-{name}")
        restart.start()
        self._restarts.append(restart)

    def kill_pbx(self) -> None:
        """SIGKILL the PBX worker (an adapter process); it is started again at once."""
        assert self.pbx is not None
        began = time.monotonic()
        killed = self.pbx.kill_worker()
        self.faults.record("sigkill-pbx", f"{killed}, starting again", began)

    def cut_ami(self) -> None:
        assert self.pbx is not None
        began = time.monotonic()
        self.faults.record("ami-cut", self.pbx.cut_ami(), began)

    def wait_for_restarts(self) -> None:
        for restart in self._restarts:
            restart.join()
        if self.pbx is not None:
            self.pbx.wait_for_restart()
        assert len(self.workers) == 2, f"a killed worker did not come back: {self.workers}"

    def restart_broker(self) -> None:
        for restart in self._restarts:
            restart.join()  # a worker starts against a running broker (it then survives one)
        if self.pbx is not None:
            self.pbx.wait_for_restart()
        began, stopped = time.monotonic(), time.time()
        restart_broker(self.plan.broker_down)
        if self.pbx is not None:
            self.pbx.broker_outages.append((stopped, time.time()))
        self.faults.record("rabbitmq-restart", "rabbitmqctl stop_app / start_app", began)

    def slow_crm(self) -> None:
        began = time.monotonic()
        self.simulators.crm_post("/chaos/slow?seconds=2").raise_for_status()
        time.sleep(self.plan.crm_slow)
        self.simulators.crm_post("/chaos/clear").raise_for_status()
        self.faults.record("crm-slow", "every CRM answer 2 s late", began)

    def kill_billing(self) -> None:
        """SIGKILL the billing simulator, leave it dead a while, start it again."""
        began = time.monotonic()
        self.simulators.kill_billing()
        time.sleep(self.plan.billing_down)
        self.simulators.start_billing()
        self.faults.record("billing-down", "billing simulator killed, started again", began)

    def stop(self) -> None:
        """Everything down and cleaned up, RabbitMQ running: safe after any failure."""
        try:
            for restart in self._restarts:
                restart.join()
            if self.pbx is not None:
                self.pbx.stop()
            for worker in self.workers.values():
                if worker.process is not None:
                    worker.stop()
            self.simulators.stop()
        finally:
            ensure_broker_up()
            self._delete_queues()
            self.engine.dispose()
            self._admin(f'drop schema if exists "{self.run}" cascade')

    def _delete_queues(self) -> None:
        from tests.chaos.faults import queue_depths

        connection = pika.BlockingConnection(RABBITMQ)
        try:
            channel = connection.channel()
            for queue in queue_depths(self.run):
                channel.queue_delete(queue)
            channel.exchange_delete(f"{self.run}.events")
        finally:
            connection.close()

    # -- traffic --------------------------------------------------------------------------

    @contextmanager
    def faults_during_traffic(self) -> Iterator[None]:
        """Run the plan's faults, in a thread, at seeded random points of the traffic."""
        plan = self.plan
        pbx_kills = plan.pbx_kills if self.pbx is not None else 0
        kinds = (["kill"] * (plan.kills - pbx_kills) + ["kill-pbx"] * pbx_kills
                 + ["broker"] * plan.broker_restarts + ["crm", "billing"]
                 + ["ami-cut"] * (plan.ami_cuts if self.pbx is not None else 0))
        self.random.shuffle(kinds)
        window = plan.traffic_seconds
        at = sorted(self.random.uniform(0.1 * window, 0.8 * window) for _ in kinds)
        failures: list[BaseException] = []

        def inject() -> None:
            try:
                for when, kind in zip(at, kinds, strict=True):
                    pause = self.faults.started + when - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                    {"kill": self.kill_worker, "kill-pbx": self.kill_pbx,
                     "broker": self.restart_broker, "crm": self.slow_crm,
                     "billing": self.kill_billing, "ami-cut": self.cut_ami}[kind]()
            except BaseException as error:  # reported by the test thread
                failures.append(error)
            finally:
                self.faults_over.set()

        injector = threading.Thread(target=inject, name="chaos-faults")
        self.faults.started = time.monotonic()
        injector.start()
        try:
            yield
        finally:
            injector.join()
            self.wait_for_restarts()
        if failures:
            raise failures[0]

    # -- what happened --------------------------------------------------------------------

    def effects(self) -> dict[str, int]:
        """Side effects per work message id."""
        with self.engine.connect() as db:
            rows = db.execute(sa.select(EFFECTS.c.message_id, sa.func.count())
                              .where(EFFECTS.c.run == self.run)
                              .group_by(EFFECTS.c.message_id))
            return {message_id: int(count) for message_id, count in rows}

    def effects_per_worker(self) -> dict[str, int]:
        with self.engine.connect() as db:
            rows = db.execute(sa.select(EFFECTS.c.worker, sa.func.count())
                              .where(EFFECTS.c.run == self.run).group_by(EFFECTS.c.worker))
            return {worker: int(count) for worker, count in rows}

    def dead_letters(self, status: str | None = None) -> list[DeadLetter]:
        return DeadLetterStore(self.engine).list(
            queue=f"{self.run}.{SUBSCRIPTION}", status=status, limit=1_000_000)

    def ami_calls(self) -> AmiCalls:
        if self.pbx is None:
            return AmiCalls(frozenset(), frozenset(), frozenset(), 0)
        return self.pbx.calls()

    def describe_calls(self, interaction_ids: list[str]) -> str:
        """What the AMI simulator's ledger and the faults say about these calls."""
        if self.pbx is None:
            return ", ".join(interaction_ids)
        return "; ".join(self.pbx.describe(i.removeprefix("call-")) for i in interaction_ids)

    def describe_links(self, found: Counter[RecordKey], expected: Counter[RecordKey]) -> str:
        """The records linked a different number of times, with what the journal holds."""
        differ = sorted(k for k in found.keys() | expected.keys() if found[k] != expected[k])
        with self.engine.connect() as db:
            journaled = Counter(
                (str(p["record"]["system"]), str(p["record"]["id"])) for (p,) in db.execute(
                    sa.select(JOURNAL.c.payload).where(JOURNAL.c.type == LINKED)))
            outbox_rows = db.scalar(sa.select(sa.func.count()).select_from(outbox))
        return (f"{len(differ)} records, outbox rows left {outbox_rows}: " + ", ".join(
            f"{k}: {found[k]} (fault-free {expected[k]}, journal {journaled[k]})"
            for k in differ[:8]))

    def pbx_published(self) -> int:
        """How many events the PBX adapter published (the journal holds each once)."""
        with self.engine.connect() as db:
            return int(db.scalar(sa.select(sa.func.count()).select_from(JOURNAL).where(
                JOURNAL.c.source == "pbx", JOURNAL.c.type.like("pbx.%"))) or 0)

    def crm_ledger(self) -> dict[str, Any]:
        return self.simulators.crm_ledger()

    def journaled(self, ids: frozenset[str]) -> int:
        """How many of ``ids`` the journal in PostgreSQL holds."""
        found = 0
        listed = sorted(ids)
        with self.engine.connect() as db:
            for start in range(0, len(listed), 1000):
                found += int(db.scalar(sa.select(sa.func.count()).select_from(JOURNAL).where(
                    JOURNAL.c.id.in_(listed[start:start + 1000]))) or 0)
        return found

    def stop_refusing(self) -> None:
        with self.engine.begin() as db:
            db.execute(REFUSALS.delete().where(REFUSALS.c.run == self.run))

    def replay_dead_letters(self) -> list[DeadLetter]:
        store = DeadLetterStore(self.engine)
        return [store.replay(letter.id, by="chaos-test") for letter in self.dead_letters("dead")]
