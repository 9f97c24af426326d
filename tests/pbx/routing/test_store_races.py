"""Every routing process hears every customer change (per-instance subscriptions) and
writes it to the one database: the same rows, at the same moment, must never clash."""

from __future__ import annotations

import threading
import uuid

import sqlalchemy as sa

from adapters.pbx.routing.directory import CustomerRef
from adapters.pbx.routing.store import RoutingStore, customers
from tests.services import require_postgres


def test_routing_processes_saving_the_same_customer_at_once_never_clash() -> None:
    engine = sa.create_engine(require_postgres())
    store = RoutingStore(engine)
    customer_id = f"C-race-{uuid.uuid4().hex[:8]}"
    phone = f"+7999{uuid.uuid4().int % 10**7:07d}"
    refs = [CustomerRef(phone, customer_id, "vip", "anna", "crm"),
            CustomerRef(phone, customer_id, "vip", "anna", "crm")]  # the same phone twice
    failures: list[Exception] = []

    def one_process() -> None:
        try:
            for _ in range(25):
                store.save_customer(customer_id, refs)
        except Exception as error:
            failures.append(error)

    processes = [threading.Thread(target=one_process) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    try:
        assert failures == []
        with engine.connect() as db:
            rows = db.execute(sa.select(customers).where(customers.c.phone == phone)).all()
        assert [(r.customer_id, r.segment) for r in rows] == [(customer_id, "vip")]
    finally:
        with engine.begin() as db:
            db.execute(customers.delete().where(customers.c.customer_id == customer_id))
        engine.dispose()
