"""The CMIS browser-binding client against the simulator: reads, idempotent create, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.docflow.client import CmisClient, NotFound, string_literal
from adapters.docflow.simdata import DocflowData, make_pdf
from adapters.docflow.simulator import DocflowSimulator
from bus.errors import ExternalSystemRejected, ExternalSystemUnavailable
from tests.docflow.conftest import settings_for

PDF = b"%PDF-1.4\n% a signed contract\n%%EOF\n"


async def test_the_repository_info_names_the_repository_and_its_cmis_version(
    client: CmisClient,
) -> None:
    info = await client.repository_info()

    assert info["repositoryId"] == "esb-docs"
    assert info["cmisVersionSupported"] == "1.1"
    assert info["rootFolderUrl"].endswith("/esb-docs/root")


async def test_a_query_by_inn_finds_the_customers_documents_newest_first(
    client: CmisClient,
) -> None:
    page = await client.documents_where("esb:inn", ["2465012345"], limit=10)

    assert [p["cmis:objectId"] for p in page.results] == [
        "DOC-00000004", "DOC-00000005", "DOC-00000003"]
    assert page.total == 3
    assert page.has_more is False

    first = await client.documents_where("esb:inn", ["2465012345"], limit=1)
    assert [p["cmis:objectId"] for p in first.results] == ["DOC-00000004"]
    assert first.has_more is True


async def test_a_quote_in_a_value_is_escaped_not_a_syntax_error(client: CmisClient) -> None:
    assert string_literal("O'Brien \\ Co") == "'O\\'Brien \\\\ Co'"

    page = await client.documents_where("esb:counterpartyName", ["O'Brien"], limit=5)

    assert page.results == []


async def test_the_object_and_its_content_stream_are_read_by_id(client: CmisClient) -> None:
    properties = await client.get_object("DOC-00000001")
    content = await client.get_content("DOC-00000001")

    assert properties["esb:number"] == "CO-0000001"
    assert content.media_type == "application/pdf"
    assert content.data.startswith(b"%PDF-1.4") and content.data.rstrip().endswith(b"%%EOF")
    assert len(content.data) == properties["cmis:contentStreamLength"]
    assert content.file_name == "DOC-00000001.pdf"
    with pytest.raises(NotFound, match="objectNotFound"):
        await client.get_content("DOC-404")


async def test_register_creates_once_per_external_id(
    simulator: DocflowSimulator, client: CmisClient,
) -> None:
    properties = {"cmis:name": "sign-1-contract.pdf", "esb:externalId": "sign-1",
                  "esb:docType": "contract", "esb:number": "Д-1", "esb:docDate": 0,
                  "esb:inn": "246512345678", "esb:title": "Договор"}

    first, created = await client.register(properties, PDF, file_name="contract.pdf",
                                           media_type="application/pdf")
    again, created_again = await client.register(properties, PDF, file_name="contract.pdf",
                                                 media_type="application/pdf")

    assert (created, created_again) == (True, False)
    assert again["cmis:objectId"] == first["cmis:objectId"]
    assert simulator.data.created == [first["cmis:objectId"]]
    assert (await client.get_content(first["cmis:objectId"])).data == PDF
    assert (await client.get_object(first["cmis:objectId"]))["esb:title"] == "Договор"


async def test_errors_say_whether_to_retry(simulator: DocflowSimulator,
                                           client: CmisClient) -> None:
    simulator.fail(503, times=1)
    with pytest.raises(ExternalSystemUnavailable, match="HTTP 503"):
        await client.repository_info()
    simulator.drop(times=1, operation="query")
    with pytest.raises(ExternalSystemUnavailable, match="RemoteProtocolError"):
        await client.documents_where("esb:inn", ["2465012345"], limit=5)
    simulator.fail(403, times=1, operation="query")
    with pytest.raises(ExternalSystemRejected, match="HTTP 403"):
        await client.documents_where("esb:inn", ["2465012345"], limit=5)
    with pytest.raises(ExternalSystemRejected, match="invalidArgument"):
        await client.query("SELECT * FROM esb:document WHERE")

    assert len((await client.documents_where("esb:inn", ["2465012345"], limit=5)).results) == 3


async def test_a_slow_repository_times_out_and_a_wrong_password_is_rejected(
    simulator: DocflowSimulator,
) -> None:
    hasty = CmisClient.from_settings(settings_for(simulator, timeout=0.2))
    wrong = CmisClient.from_settings(settings_for(simulator, password="nope"))
    simulator.slow(1.0, times=1)
    try:
        with pytest.raises(ExternalSystemUnavailable, match="timed out"):
            await hasty.repository_info()
        with pytest.raises(ExternalSystemRejected, match="HTTP 401"):
            await wrong.repository_info()
    finally:
        await hasty.close()
        await wrong.close()


async def test_the_simulator_serves_a_generated_directory(datagen_dir: Path) -> None:
    data = DocflowData.from_directory(datagen_dir)
    with DocflowSimulator(data) as sim:
        cmis = CmisClient.from_settings(settings_for(sim))
        try:
            some = next(p for p in data.all_properties() if p["esb:accountNo"])
            page = await cmis.documents_where("esb:accountNo", [some["esb:accountNo"]],
                                              limit=100)
        finally:
            await cmis.close()

    expected = {p["cmis:objectId"] for p in data.all_properties()
                if p["esb:accountNo"] == some["esb:accountNo"]}
    assert {p["cmis:objectId"] for p in page.results} == expected
    assert len(data.documents) > 60  # at least a contract per account


def test_the_simulators_pdf_has_a_cross_reference_table_that_points_at_its_objects() -> None:
    pdf = make_pdf("contract (CO-1) of 2024-03-01")
    startxref = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    table = pdf[startxref:].split(b"trailer", 1)[0].splitlines()

    assert table[0] == b"xref"
    assert table[1] == b"0 6"
    for number, entry in enumerate(table[3:8], start=1):
        offset = int(entry[:10])
        assert pdf[offset:].startswith(f"{number} 0 obj".encode())
    assert b"(contract \\(CO-1\\) of 2024-03-01) Tj" in pdf
