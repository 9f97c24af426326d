"""docflow.documents.requested.v1: a customer's documents, answered live from the repository."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.docflow.simulator import DocflowSimulator
from tests.docflow.conftest import AdapterFactory, settings_for

REQUEST = "docflow.documents.requested.v1"


@pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)
async def test_a_companys_documents_come_back_newest_first_with_content_links(
    simulator: DocflowSimulator, docflow_on: AdapterFactory,
) -> None:
    bus, _adapter = await docflow_on(settings_for(simulator))

    reply = await bus.request(REQUEST, {"inn": "2465012345"}, timeout=5)

    assert reply.type == "docflow.documents.replied.v1"
    documents = reply.payload["documents"]
    assert [(d["id"], d["kind"], d["date"]) for d in documents] == [
        ("DOC-00000004", "invoice", "2024-02-29"),
        ("DOC-00000005", "agreement", "2023-07-01"),
        ("DOC-00000003", "contract", "2020-05-15")]
    assert documents[2]["status"] == "signed"
    assert documents[0]["content"]["uri"] == (
        "/v1/adapters/docflow/documents/DOC-00000004/content")
    assert reply.payload["has_more"] is False
    assert reply.payload["error"] is None


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
@pytest.mark.parametrize(("query", "ids"), [
    ({"account_number": "100245"}, ["DOC-00000002", "DOC-00000001"]),
    ({"customer_id": "C-1003"}, ["DOC-00000006"]),
    # the synchronizer's xref knows a docflow customer by a document: same INN's documents
    ({"customer_id": "DOC-00000005"}, ["DOC-00000004", "DOC-00000005", "DOC-00000003"]),
    ({"inn": "2465012345", "limit": 2}, ["DOC-00000004", "DOC-00000005"]),
    ({"customer_id": "C-9999"}, []),
])
async def test_documents_are_found_by_account_or_customer_and_a_miss_says_not_found(
    simulator: DocflowSimulator, docflow_on: AdapterFactory, query: dict[str, Any],
    ids: list[str],
) -> None:
    bus, _adapter = await docflow_on(settings_for(simulator))

    reply = await bus.request(REQUEST, query, timeout=5)

    assert [d["id"] for d in reply.payload["documents"]] == ids
    if not ids:
        assert reply.payload["error"]["code"] == "not_found"
    if query.get("limit"):
        assert reply.payload["has_more"] is True


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_a_repository_that_is_down_gives_an_unavailable_reply_not_a_timeout(
    simulator: DocflowSimulator, docflow_on: AdapterFactory,
) -> None:
    bus, adapter = await docflow_on(settings_for(simulator))
    simulator.fail(503)

    reply = await bus.request(REQUEST, {"inn": "2465012345"}, timeout=5)

    assert reply.payload["documents"] == []
    assert reply.payload["error"]["code"] == "unavailable"
    assert not (await adapter.health()).ok
    simulator.clear()
    assert (await adapter.health()).ok
