"""The chaos harness: real processes on one RabbitMQ and one PostgreSQL, and faults.

It starts the CRM simulator as its own process (:mod:`tests.chaos.crm_process`)
and two ``esb run`` workers (competing consumers of quorum queues) with the real
CRM adapter pointed at it and the chaos work (:mod:`tests.chaos.chaos_worker`)
installed through entry points. It publishes mixed traffic from its own bus, as
other services would: ``test.thing.happened.v1`` work (1 % of it poison) and
``pbx.call.ended.v1`` calls the CRM adapter logs. Meanwhile a fault thread
SIGKILLs workers (each restarted at once), restarts RabbitMQ and slows the CRM,
at seeded random points, each recorded with its time.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import httpx
import pika
import sqlalchemy as sa

from bus.app import Bus
from bus.delivery.dead_letters import DeadLetter, DeadLetterStore
from bus.envelope import Envelope
from bus.errors import RequestTimeout, TransientError
from bus.journal import MESSAGES as JOURNAL
from bus.settings import Settings
from tests.chaos.chaos_worker import EFFECTS, REFUSALS, SUBSCRIPTION, WORK_TYPE, create_tables
from tests.chaos.faults import RABBITMQ, FaultLog, ensure_broker_up, restart_broker
from tests.chaos.plan import ChaosPlan, call_ended
from tests.entry_points import write_distribution
from tests.esb_processes import ROOT, Deployment, EsbProcess, free_port

__all__ = ["Chaos"]

CRM_TOKEN = "crm-token"
BATCH = 100
BILLING_CUSTOMER = "10001"
"""The first holder of the billing simulator's built-in seed."""


class Chaos:
    def __init__(self, directory: Path, broker: str, database: str, plan: ChaosPlan) -> None:
        self.directory = directory
        self.broker = broker
        self.database = database
        self.plan = plan
        self.run = f"c{uuid.uuid4().hex[:10]}"
        self.random = random.Random(plan.seed)
        self.faults = FaultLog()
        self.engine = sa.create_engine(database)
        self.workers: dict[str, EsbProcess] = {}
        self.crm_port = free_port()
        self.crm: subprocess.Popen[str] | None = None
        self._crm_log: IO[str] | None = None
        self.billing_port = free_port()
        self.billing: subprocess.Popen[str] | None = None
        self._incarnations = 0
        self._pythonpath = self._install_plugin()
        self._lock = threading.Lock()
        self._restarts: list[threading.Thread] = []
        self.faults_over = threading.Event()

    # -- processes ------------------------------------------------------------------------

    def _install_plugin(self) -> str:
        plugins = self.directory / "plugins"
        write_distribution(plugins, "esb-chaos-work", {
            "esb.adapters": {"chaos-work": "tests.chaos.chaos_worker:ChaosWorkAdapter"}})
        return os.pathsep.join([str(plugins), str(ROOT)])

    @property
    def crm_url(self) -> str:
        return f"http://127.0.0.1:{self.crm_port}"

    def settings(self, instance: str) -> Settings:
        return Settings(broker_url=self.broker, database_url=self.database,
                        exchange=f"{self.run}.events", queue_prefix=self.run,
                        instance=instance, delivery={"quorum_queues": True})

    def start(self) -> None:
        create_tables(self.engine)
        with self.engine.begin() as db:
            db.execute(REFUSALS.insert().values(run=self.run))
        self._start_crm()
        self._start_billing()
        names = ("worker-a", "worker-b")
        threads = [threading.Thread(target=self.start_worker, args=(name,)) for name in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        missing = [name for name in names if name not in self.workers]
        assert not missing, f"workers did not start: {missing}"

    def _start_crm(self) -> None:
        self._crm_log = (self.directory / "crm.log").open("w")
        self.crm = subprocess.Popen(
            [sys.executable, "-m", "tests.chaos.crm_process", "--port", str(self.crm_port)],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=self._crm_log,
            stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 30
        while True:
            with suppress(httpx.TransportError):
                if self.crm_get("/chaos/ledger").status_code == 200:
                    return
            assert self.crm.poll() is None, "the CRM simulator exited"
            assert time.monotonic() < deadline, "the CRM simulator did not answer in 30 s"
            time.sleep(0.1)

    def _start_billing(self) -> None:
        log = (self.directory / "billing.log").open("a")
        self.billing = subprocess.Popen(
            [sys.executable, "-m", "adapters.billing.simulator",
             "--port", str(self.billing_port)],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, text=True)
        log.close()  # the child has its own copy
        deadline = time.monotonic() + 30
        while True:
            with suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.billing_port), timeout=1.0):
                return
            assert self.billing.poll() is None, "the billing simulator exited"
            assert time.monotonic() < deadline, "the billing simulator did not listen in 30 s"
            time.sleep(0.1)

    def crm_get(self, path: str) -> httpx.Response:
        return httpx.get(self.crm_url + path, timeout=10.0,
                         headers={"Authorization": f"Bearer {CRM_TOKEN}"})

    def crm_post(self, path: str) -> httpx.Response:
        return httpx.post(self.crm_url + path, timeout=10.0,
                          headers={"Authorization": f"Bearer {CRM_TOKEN}"})

    def start_worker(self, name: str) -> None:
        """A bus worker: the chaos work and the CRM adapter, competing with the other."""
        self.workers[name] = self.start_esb(
            name, PYTHONPATH=self._pythonpath,
            ESB_CRM__URL=self.crm_url, ESB_CRM__TOKEN=CRM_TOKEN, ESB_CRM__TIMEOUT="5",
            ESB_BILLING__URL=f"http://127.0.0.1:{self.billing_port}",
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
        process = EsbProcess(deployment, "run", env=deployment.env(
            ESB_BROKER_URL=self.broker, ESB_DATABASE_URL=self.database,
            ESB_EXCHANGE=f"{self.run}.events", ESB_QUEUE_PREFIX=self.run,
            ESB_INSTANCE=f"{self.run}-{name}",
            ESB_DELIVERY__QUORUM_QUEUES="true", ESB_DELIVERY__PREFETCH="50",
            ESB_DELIVERY__RETRY_DELAYS="[1,2,5]", ESB_DELIVERY__MAX_ATTEMPTS="20",
            ESB_SYNC__ENABLED="false", ESB_WINDOW__ENABLED="false",
            ESB_CONSOLE__ENABLED="false", **env))
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

    def wait_for_restarts(self) -> None:
        for restart in self._restarts:
            restart.join()
        assert len(self.workers) == 2, f"a killed worker did not come back: {self.workers}"

    def restart_broker(self) -> None:
        for restart in self._restarts:
            restart.join()  # a worker starts against a running broker (it then survives one)
        began = time.monotonic()
        restart_broker(self.plan.broker_down)
        self.faults.record("rabbitmq-restart", "rabbitmqctl stop_app / start_app", began)

    def slow_crm(self) -> None:
        began = time.monotonic()
        self.crm_post("/chaos/slow?seconds=2").raise_for_status()
        time.sleep(self.plan.crm_slow)
        self.crm_post("/chaos/clear").raise_for_status()
        self.faults.record("crm-slow", "every CRM answer 2 s late", began)

    def kill_billing(self) -> None:
        """SIGKILL the billing simulator, leave it dead a while, start it again."""
        assert self.billing is not None
        began = time.monotonic()
        self.billing.kill()
        self.billing.wait(10)
        time.sleep(self.plan.billing_down)
        self._start_billing()
        self.faults.record("billing-down", "billing simulator killed, started again", began)

    def stop(self) -> None:
        """Everything down and cleaned up, RabbitMQ running: safe after any failure."""
        try:
            for restart in self._restarts:
                restart.join()
            for worker in self.workers.values():
                if worker.process is not None:
                    worker.stop()
            if self.crm is not None and self.crm.poll() is None:
                self.crm.terminate()
                self.crm.wait(10)
            if self.billing is not None and self.billing.poll() is None:
                self.billing.kill()
                self.billing.wait(10)
            if self._crm_log is not None:
                self._crm_log.close()
        finally:
            ensure_broker_up()
            self._delete_queues()
            with self.engine.begin() as db:
                for table in (EFFECTS, REFUSALS):
                    db.execute(table.delete().where(table.c.run == self.run))
            self.engine.dispose()

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
        kinds = (["kill"] * plan.kills + ["broker"] * plan.broker_restarts
                 + ["crm", "billing"])
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
                    {"kill": self.kill_worker, "broker": self.restart_broker,
                     "crm": self.slow_crm, "billing": self.kill_billing}[kind]()
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

    def traffic(self) -> list[Envelope]:
        plan = self.plan
        work = [Envelope(type=WORK_TYPE, source="chaos-test",
                         payload={"n": str(i), "poison": "yes" if i % 100 == 37 else "no"})
                for i in range(plan.messages)]
        calls = [call_ended(i, self.random) for i in range(plan.calls)]
        mixed = work + calls
        self.random.shuffle(mixed)
        return mixed

    async def publish(self, envelopes: list[Envelope]) -> int:
        """Publish at an even pace over the traffic window; a batch refused by a broker in
        trouble is sent again (whole: its consumers must skip the copies). The resends."""
        resent = 0
        batches = [envelopes[i:i + BATCH] for i in range(0, len(envelopes), BATCH)]
        pause = self.plan.traffic_seconds / max(len(batches), 1)
        publisher = Bus(self.settings(f"{self.run}-publisher"), source="chaos")
        await publisher.start(consume=False)  # it reconnects by itself after a broker restart
        try:
            for number, batch in enumerate(batches):
                due = self.faults.started + number * pause
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                for attempt in range(60):
                    try:
                        await publisher.publish_many(batch)
                        break
                    except TransientError:
                        resent += attempt == 0
                        await asyncio.sleep(1.0)
                else:
                    raise AssertionError(f"batch {number} could not be published in 60 s")
        finally:
            await publisher.stop()
            publisher.close()
        return resent

    async def ask_billing(self, until: threading.Event) -> Counter[str]:
        """Unified-view style requests for a customer's accounts, two a second until
        ``until`` is set: how each ended (ok, the billing's error code, timeout, broker)."""
        outcomes: Counter[str] = Counter()
        requester = Bus(self.settings(f"{self.run}-requester"), source="window")
        await requester.start()
        try:
            while not until.is_set():
                try:
                    outcomes[await self.billing_outcome(requester)] += 1
                except RequestTimeout:
                    outcomes["timeout"] += 1
                except TransientError:
                    outcomes["broker"] += 1
                await asyncio.sleep(0.5)
        finally:
            await requester.stop()
            requester.close()
        return outcomes

    async def billing_outcome(self, requester: Bus) -> str:
        reply = await requester.request("billing.accounts.requested.v1",
                                        {"customer_id": BILLING_CUSTOMER}, timeout=4.0)
        error = reply.payload.get("error")
        return str(error["code"]) if error else "ok"

    async def billing_recovers(self, timeout: float) -> list[str]:
        """Ask the billing every second until it answers ``ok`` (its breaker lets a probe
        through after ``breaker_reset`` seconds); every outcome, in order."""
        requester = Bus(self.settings(f"{self.run}-requester-after"), source="window")
        await requester.start()
        outcomes: list[str] = []
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline and outcomes[-1:] != ["ok"]:
                try:
                    outcomes.append(await self.billing_outcome(requester))
                except RequestTimeout:
                    outcomes.append("timeout")
                await asyncio.sleep(1.0)
        finally:
            await requester.stop()
            requester.close()
        return outcomes

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

    def crm_ledger(self) -> dict[str, Any]:
        ledger: dict[str, Any] = self.crm_get("/chaos/ledger").json()
        return ledger

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
