"""Generated passports and INNs go through the billing (feed and request-reply over a
real SOAP simulator) and the journal, with every logger at DEBUG: no log line and no
journal row holds one unmasked."""



from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import strategies as st

from adapters.billing.simulator import BillingSimulator
from bus.app import Bus
from bus.journal.tables import EVENTS, KEYS, MESSAGES
from tests.billing.conftest import AdapterFactory, billing_on, settings_for, simulator
from tests.conftest import collector, eventually
from tests.fuzz.bounds import drawn

__all__ = ["billing_on", "simulator"]  # the billing suite's fixtures, used here

CHANGED = "billing.account.changed.v1"
PEOPLE = st.tuples(st.from_regex(r"[1-9][0-9]{3}", fullmatch=True),
                   st.from_regex(r"[1-9][0-9]{5}", fullmatch=True),
                   st.from_regex(r"[1-9][0-9]{11}", fullmatch=True))
"""(passport series, passport number, a person's INN)."""


def forms_of(series: str, number: str, inn: str) -> list[str]:
    """How each could be written in a log line or a JSON document."""
    return [inn, f"{series} {number}", f"{series}{number}", f"'{number}'", f'"{number}"',
            f">{number}<"]


def journal_rows(bus: Bus) -> str:
    with bus.engine.connect() as db:
        return "\n".join(str(tuple(row)) for table in (MESSAGES, EVENTS, KEYS)
                         for row in db.execute(sa.select(table)))


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_passports_and_inns_never_reach_a_log_line_or_the_journal_unmasked(
    simulator: BillingSimulator, billing_on: AdapterFactory, masked_logs: pytest.LogCaptureFixture,
) -> None:
    people = drawn(PEOPLE.filter(lambda p: len(set(p)) == 3), 3)
    for n, (series, number, inn) in enumerate(people):
        simulator.data.apply_change({
            "account_no": f"ЛС-PII{n:05d}", "holder_name": "Тестова Анна Петровна",
            "passport": f"{series} {number}", "inn": inn, "phone": "9619270999",
            "opened_at": "2026-11-02", "status": "active", "balance": "10.00",
            "tariff": "Базовый"})
    observer, received = collector(CHANGED)
    bus, adapter = await billing_on(settings_for(simulator), observer)

    published = await adapter.feed.poll()
    await eventually(lambda: len(received) >= published, timeout=10)
    assert {inn for _, _, inn in people} <= {e.payload["customer"]["inn"] for e in received}
    reply = await bus.request("billing.accounts.requested.v1", {"inn": people[0][2]},
                              timeout=10)
    await eventually(lambda: all(e.id in journal_rows(bus) for e in received), timeout=10)

    passed = [e for e in received if e.payload["customer"]["inn"] == people[0][2]]
    person: dict[str, Any] = passed[0].payload["customer"]["person"]
    assert person["passport"]["number"] == people[0][1], "the flow did carry the passport"
    assert reply.payload["accounts"], "the INN look-up found the holder"
    logged = masked_logs.text + "\n".join(r.getMessage() for r in masked_logs.records)
    assert len(masked_logs.records) > 20, "the flow logged: the scan saw something"
    journal = journal_rows(bus)
    for series, number, inn in people:
        for form in forms_of(series, number, inn):
            assert form not in logged, f"{form} is in a log line"
            assert form not in journal, f"{form} is in the journal"
