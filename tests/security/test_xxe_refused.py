"""XXE is refused everywhere XML enters: billing SOAP replies (zeep), canonical XML
(``bus/schema/safe_xml``); the CMIS binding we speak is JSON, so an XML reply is refused
as unreadable. No file is read, no URL fetched, no entity expanded."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from lxml import etree

from adapters.billing.client import BillingClient
from adapters.docflow.client import CmisClient
from bus.errors import ExternalSystemUnavailable, UnsafeXml
from bus.schema import parse_xml
from bus.schema.safe_xml import _parser
from tests.security.hostile_http import HostileServer

SOAP = ('<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:ns1="urn:api3"><SOAP-ENV:Body><ns1:LoginResponse><ret>{ret}</ret>'
        "</ns1:LoginResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>")
HOSTILE_SOAP = {
    "xxe-file": '<!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + SOAP.format(ret="&x;"),
    "external-dtd": '<!DOCTYPE e SYSTEM "{url}/evil.dtd">' + SOAP.format(ret="1"),
    "parameter-entity": '<!DOCTYPE e [<!ENTITY % p SYSTEM "{url}/p.dtd"> %p;]>'
                        + SOAP.format(ret="&leak;"),
    "billion-laughs": '<!DOCTYPE e [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;">'
                      '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
                      + SOAP.format(ret="&c;"),
}


@pytest.mark.parametrize("attack", sorted(HOSTILE_SOAP))
def test_a_billing_soap_reply_with_a_dtd_or_entities_is_refused_unread(attack: str) -> None:
    body = ('<?xml version="1.0" encoding="utf-8"?>' + HOSTILE_SOAP[attack]).encode()
    with HostileServer(body) as billing:
        client = BillingClient(billing.url, "esb", "secret", retries=0, timeout=5)
        started = time.perf_counter()
        try:
            with pytest.raises(UnsafeXml) as refused:
                client.login()
        finally:
            client.close()
        assert time.perf_counter() - started < 5
        assert billing.fetched() == [], "the reply made the client fetch a URL"
    assert "billing Login" in str(refused.value)
    assert "root:" not in str(refused.value)


def test_a_clean_billing_reply_still_reads() -> None:
    """The refusal is of the DTD, not of SOAP: the same reply without one is taken."""
    body = ('<?xml version="1.0" encoding="utf-8"?>' + SOAP.format(ret="1")).encode()
    with HostileServer(body) as billing:
        client = BillingClient(billing.url, "esb", "secret", retries=0, timeout=5)
        try:
            client.login()
        finally:
            client.close()
    assert billing.requests == [("POST", "/")]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32-le"])
def test_canonical_xml_naming_a_local_dtd_is_refused_in_any_encoding_and_the_file_unread(
    tmp_path: Path, encoding: str,
) -> None:
    dtd = tmp_path / "evil.dtd"
    dtd.write_text("this is not a DTD: reading it is an error libxml2 reports")
    text = (f'<?xml version="1.0" encoding="{encoding.upper()}"?>'
            f'<!DOCTYPE Envelope SYSTEM "{dtd.as_uri()}"><Envelope/>')
    with pytest.raises(UnsafeXml):
        parse_xml(text.encode(encoding))


def test_the_safe_parser_itself_never_loads_an_external_dtd(tmp_path: Path) -> None:
    """The second line of defence, behind the refusal of declarations (it did load one
    with ``collect_ids=False``: libxml2 then reported the file's content errors)."""
    dtd = tmp_path / "evil.dtd"
    dtd.write_text("this is not a DTD")
    document = f'<?xml version="1.0"?><!DOCTYPE r SYSTEM "{dtd.as_uri()}"><r>ok</r>'.encode()
    assert etree.fromstring(document, _parser()).text == "ok"


def test_a_cmis_repository_answering_xml_is_refused_as_unreadable_not_parsed() -> None:
    atom = (b'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<feed xmlns="http://www.w3.org/2005/Atom"><title>&x;</title></feed>')
    with HostileServer(atom, content_type="application/atom+xml") as docflow:
        client = CmisClient(docflow.url + "/browser", timeout=5)
        with pytest.raises(ExternalSystemUnavailable, match=r"without JSON|not JSON") as refused:
            _run(client)
        assert set(docflow.fetched()) == {"/browser"}, "only its own request, nothing the XML named"
    assert "root:" not in str(refused.value)


def _run(client: CmisClient) -> None:
    async def go() -> None:
        try:
            await client.repository_info()
        finally:
            await client.close()

    asyncio.run(go())

