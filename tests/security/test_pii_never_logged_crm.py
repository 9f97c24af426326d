"""Generated INNs in signed CRM webhooks, through the real API, the CRM adapter and the
journal, every logger at DEBUG: no log line and no journal row holds one unmasked."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import strategies as st

from adapters.crm.adapter import CrmAdapter
from adapters.crm.simulator import CrmSimulator
from bus.adapters import AdapterHost
from bus.adapters.registry import LoadedAdapter
from bus.api.app import create_app
from tests.conftest import collector, eventually
from tests.crm.conftest import SECRET, AdapterFactory, crm_on, settings_for, simulator
from tests.fuzz.bounds import drawn
from tests.security.test_pii_never_logged import journal_rows

__all__ = ["crm_on", "simulator"]  # the CRM suite's fixtures, used here

CHANGED = "crm.customer.changed.v1"
INNS = st.one_of(st.from_regex(r"[1-9][0-9]{11}", fullmatch=True),
                 st.from_regex(r"[1-9][0-9]{9}", fullmatch=True))


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_inns_of_crm_webhooks_never_reach_a_log_line_or_the_journal_unmasked(
    simulator: CrmSimulator, crm_on: AdapterFactory, masked_logs: pytest.LogCaptureFixture,
) -> None:
    inns = drawn(INNS, 3)
    observer, changed = collector(CHANGED)
    bus, adapter = await crm_on(settings_for(simulator), observer)
    app = create_app(bus, AdapterHost(bus, [LoadedAdapter("crm", CrmAdapter, instance=adapter,
                                                          state="running")]))
    customer_ids = sorted(simulator.data.customers)[:len(inns)]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://esb") as client:
        for customer_id, inn in zip(customer_ids, inns, strict=True):
            simulator.data.customers[customer_id]["inn"] = inn
            body, headers = simulator.customer_webhook(SECRET, customer_id,
                                                       changed_fields=["inn"])
            response = await client.post("/v1/adapters/crm/webhooks/customer", content=body,
                                         headers=headers)
            assert response.status_code == 202, response.text
        await eventually(lambda: len(changed) == len(inns))
        await eventually(lambda: all(e.id in journal_rows(bus) for e in changed), timeout=10)

    assert {e.payload["customer"]["inn"] for e in changed} == set(inns), "the INNs travelled"
    logged = masked_logs.text + "\n".join(r.getMessage() for r in masked_logs.records)
    journal = journal_rows(bus)
    assert masked_logs.records, "the flow logged: the scan saw something"
    for inn in inns:
        assert inn not in logged, f"INN {inn} is in a log line"
        assert inn not in journal, f"INN {inn} is in the journal"
