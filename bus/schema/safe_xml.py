"""Parsing XML that came from outside, without letting it reach anything.

A message may carry no DTD at all: any ``<!DOCTYPE`` or ``<!ENTITY`` is refused
outright with :class:`UnsafeXml`, before and after parsing. That closes external
entities (XXE: ``file:///etc/passwd``, ``http://...``), parameter entities and
entity expansion bombs ("billion laughs"). Independently, the parser never
loads a DTD, never resolves an entity, never touches the network and keeps
libxml2's limits on depth and text size (``huge_tree=False``).
"""

from __future__ import annotations

import threading
from typing import Any

from lxml import etree

from bus.errors import MalformedMessage, MessageTooLarge, UnsafeXml

__all__ = ["DEFAULT_MAX_BYTES", "parse_xml"]

DEFAULT_MAX_BYTES = 8 * 1024 * 1024
"""The same default as ``Settings.delivery.max_message_bytes``."""

_DECLARATIONS = (b"<!DOCTYPE", b"<!ENTITY", b"<!doctype", b"<!entity")
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
    # no BOM, but libxml2 still reads them (XML 1.0 appendix F: "<" or "<?" in the encoding)
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
)
_local = threading.local()


def _parser() -> Any:
    """One parser per thread: lxml parsers should not be shared between threads."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            # not collect_ids=False: with it libxml2 2.14 reads an external DTD (a local file)
        )
    return parser


def parse_xml(
    data: bytes, max_bytes: int = DEFAULT_MAX_BYTES, *, message_id: str | None = None
) -> Any:
    """The root element of ``data``; comments and processing instructions are dropped.

    Raises :class:`MessageTooLarge` over ``max_bytes``, :class:`UnsafeXml` for any
    DTD or entity declaration, :class:`MalformedMessage` (with line and column)
    for anything that is not well-formed XML.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MalformedMessage("XML must be given as bytes", message_id=message_id)
    data = bytes(data)
    if len(data) > max_bytes:
        raise MessageTooLarge(
            f"XML message of {len(data)} bytes exceeds the limit of {max_bytes}",
            message_id=message_id,
        )
    if _declares(data):
        raise UnsafeXml(
            "XML with a DOCTYPE or ENTITY declaration is refused (no DTDs or entities allowed)",
            message_id=message_id,
        )
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as error:
        line, column = error.position
        raise MalformedMessage(
            f"XML is not well-formed at line {line}, column {column}: {error.msg}",
            message_id=message_id,
        ) from None
    if root is None:
        raise MalformedMessage("XML document is empty", message_id=message_id)
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise UnsafeXml("XML with a DOCTYPE is refused", message_id=message_id)
    return root


def _declares(data: bytes) -> bool:
    """Declaration markup in the bytes, or in the text of a UTF-16/32 document (BOM)."""
    if any(marker in data for marker in _DECLARATIONS):
        return True
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = data.decode(encoding, errors="replace").upper()
            return "<!DOCTYPE" in text or "<!ENTITY" in text
    return False
