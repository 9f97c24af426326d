"""Hostile XML is refused with a clear error, and never reaches a file or the network."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from lxml import etree

from bus.errors import MalformedMessage, MessageTooLarge, UnsafeXml
from bus.schema import XmlCodec, parse_xml, validate_file
from bus.schema.safe_xml import _parser

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Envelope xmlns="urn:telecom-esb:canonical:v1"><id>&xxe;</id></Envelope>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>"""

EXTERNAL_DTD = b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd"><r/>'
PARAMETER_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % ext SYSTEM "file:///etc/passwd"> %ext;]><r/>'
)


@pytest.mark.parametrize(
    "document",
    [XXE, BILLION_LAUGHS, EXTERNAL_DTD, PARAMETER_ENTITY],
    ids=["xxe-file", "billion-laughs", "external-dtd", "parameter-entity"],
)
def test_any_doctype_or_entity_declaration_is_refused_as_unsafe(document: bytes) -> None:
    with pytest.raises(UnsafeXml, match="DOCTYPE or ENTITY"):
        parse_xml(document)


def test_a_doctype_hidden_in_utf16_is_refused() -> None:
    with pytest.raises(UnsafeXml):
        parse_xml(XXE.replace(b'<?xml version="1.0"?>', b"").decode().encode("utf-16"))


def test_xxe_inside_an_envelope_is_refused_by_the_codec(codec: XmlCodec) -> None:
    with pytest.raises(UnsafeXml):
        codec.envelope_from_xml(XXE)


def test_the_parser_itself_neither_reads_files_nor_expands_entities() -> None:
    """Second line of defence, behind the refusal of declarations."""
    root = etree.fromstring(XXE, _parser())
    assert b"root:" not in etree.tostring(root)
    started = time.perf_counter()
    try:
        bomb = etree.fromstring(BILLION_LAUGHS, _parser())
    except etree.XMLSyntaxError as error:  # libxml2's own amplification guard
        assert "amplification" in str(error)
    else:
        assert len(etree.tostring(bomb)) < 10_000
    assert time.perf_counter() - started < 1.0


def test_oversize_xml_is_refused_before_parsing() -> None:
    big = b"<r>" + b"x" * 2048 + b"</r>"
    with pytest.raises(MessageTooLarge, match="exceeds the limit of 1024"):
        parse_xml(big, max_bytes=1024)
    assert parse_xml(big, max_bytes=4096).text == "x" * 2048


def test_malformed_xml_says_where() -> None:
    with pytest.raises(MalformedMessage, match=r"line 2, column \d+: .*mismatch") as caught:
        parse_xml(b"<a>\n<b></a>")
    assert not isinstance(caught.value, UnsafeXml)


@pytest.mark.parametrize("document", [b"", b"   ", b"not xml", b"<a>", b"<a></b>", b"<a/><b/>"])
def test_anything_not_well_formed_is_malformed(document: bytes) -> None:
    with pytest.raises(MalformedMessage, match="not well-formed"):
        parse_xml(document)


def test_deeply_nested_xml_hits_the_parser_limit() -> None:
    deep = b"<a>" * 300_000 + b"</a>" * 300_000
    with pytest.raises(MalformedMessage):
        parse_xml(deep)


def test_comments_and_processing_instructions_are_dropped() -> None:
    root = parse_xml(b"<a><!-- note --><?pi x?>text<!-- c -->more</a>")
    assert "".join(root.itertext()) == "textmore"
    assert len(root) == 0


def test_unsafe_file_is_refused_by_validate_file(tmp_path: Path) -> None:
    path = tmp_path / "evil.xml"
    path.write_bytes(XXE)
    with pytest.raises(UnsafeXml):
        validate_file(path)
