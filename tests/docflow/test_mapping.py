"""CMIS properties <-> the canonical Document: pure functions, checked against the schema."""

# ruff: noqa: RUF001 - Russian names, on purpose

from __future__ import annotations

from typing import Any

import pytest

from adapters.docflow import mapping
from adapters.docflow.simdata import DocflowData
from bus.schema import default_registry

BASE = "/v1/adapters/docflow/documents"


def seeded(object_id: str) -> dict[str, Any]:
    found = DocflowData.seed().properties(object_id)
    assert found is not None
    return found


def test_a_seeded_contract_becomes_a_canonical_document_with_a_content_link() -> None:
    document = mapping.document(seeded("DOC-00000001"), content_base=BASE)

    assert document["id"] == "DOC-00000001"
    assert (document["kind"], document["number"], document["date"], document["status"]) == (
        "contract", "CO-0000001", "2019-02-01", "signed")
    assert document["account_number"] == "100245"
    assert document["counterparty"] == {"name": "Иванова Мария Сергеевна",
                                        "inn": "246512345678", "customer_id": "C-1001"}
    assert document["content"]["uri"] == f"{BASE}/DOC-00000001/content"
    assert document["content"]["media_type"] == "application/pdf"
    assert document["content"]["size_bytes"] > 200
    assert document["updated_at"].endswith("Z")
    default_registry().validate("docflow.documents.replied.v1",
                                {"documents": [document], "error": None})


def test_the_docflows_own_words_map_to_canonical_kinds_and_statuses() -> None:
    addendum = mapping.document(seeded("DOC-00000005"), content_base=BASE)
    odd = mapping.document({**seeded("DOC-00000004"), "esb:docType": "memo",
                            "esb:status": "archived", "esb:inn": "12345"}, content_base=BASE)

    assert addendum["kind"] == "agreement"
    assert addendum["account_number"] is None
    assert (odd["kind"], odd["status"]) == ("other", "registered")
    assert odd["attributes"] == {"docflow_type": "memo"}
    assert odd["counterparty"]["inn"] is None  # not a valid INN: not passed on


@pytest.mark.parametrize(("request_", "expected"), [
    ({"inn": "2465012345"}, ("esb:inn", ["2465012345"])),
    ({"customer_id": "C-1001"}, ("esb:customerId", ["C-1001"])),
    ({"account_number": "LS-00000012"}, ("esb:accountNo", ["LS-00000012", "ЛС-00000012"])),
    ({"account_number": "100245"}, ("esb:accountNo", ["100245"])),
    ({"limit": 5}, None),
])
def test_a_request_is_asked_by_one_property(request_: dict[str, Any],
                                            expected: tuple[str, list[str]] | None) -> None:
    assert mapping.lookup(request_) == expected


def test_a_cyrillic_account_number_is_published_transliterated() -> None:
    assert mapping.account_number("ЛС-00000012") == "LS-00000012"
    assert mapping.account_number("  ") is None


def test_a_registration_command_becomes_cmis_properties() -> None:
    command = {"external_id": "sign-7", "kind": "agreement", "number": "ДС-7",
               "date": "2024-03-12", "inn": "2465012345", "counterparty_name": "ООО Ромашка",
               "content_base64": "JVBERg=="}

    properties = mapping.registration_properties(command, file_name="ds-7.pdf")

    assert properties["cmis:name"] == "sign-7-ds-7.pdf"
    assert properties["esb:externalId"] == "sign-7"
    assert properties["esb:docType"] == "addendum"
    assert properties["esb:status"] == "signed"
    assert mapping.date_of(properties["esb:docDate"]) == "2024-03-12"


def test_ids_that_are_not_canonical_identifiers_are_recognised() -> None:
    assert mapping.is_publishable_id("DOC-00000001")
    assert not mapping.is_publishable_id("workspace://SpacesStore/4f1c;1.0")
