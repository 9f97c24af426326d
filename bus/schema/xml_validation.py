"""Validating XML against the canonical XSD, with errors that name the field."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from lxml import etree

from bus.errors import ConfigurationError
from bus.schema.paths import violation

__all__ = ["XsdValidator", "xml_field_path"]

_QUOTED_VALUE = re.compile(r"The value '.*?' ", re.DOTALL)
_ATOMIC_VALUE = re.compile(r"^'.*?' is not", re.DOTALL)
_ELEMENT_PREFIX = re.compile(r"^Element '[^']*': ")


class XsdValidator:
    """The compiled canonical XSD (loaded once, on first use), shared by threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._schema: Any = None
        self._lock = threading.Lock()

    def _compiled(self) -> Any:
        if self._schema is None:
            parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
            try:
                self._schema = etree.XMLSchema(etree.parse(str(self.path), parser))
            except (OSError, etree.XMLSchemaParseError, etree.XMLSyntaxError) as error:
                raise ConfigurationError(f"cannot load the XSD {self.path}: {error}") from None
        return self._schema

    def validate(self, root: Any, *, message_id: str | None = None) -> None:
        """Raise :class:`SchemaViolation` for the first XSD error in the tree under ``root``."""
        with self._lock:
            schema = self._compiled()
            if schema.validate(root):
                return
            error = schema.error_log[0]
        raise violation(
            xml_field_path(root, error.path or ""),
            f"XML does not match the canonical XSD (line {error.line}): {_plain(error.message)}",
            message_id=message_id,
        )


def _plain(message: str) -> str:
    """libxml2's message without the offending value (it may be personal data)."""
    message = _ELEMENT_PREFIX.sub("", message)
    message = _QUOTED_VALUE.sub("The value ", message)
    return _ATOMIC_VALUE.sub("the value is not", message)


def xml_field_path(root: Any, path: str) -> str:
    """The canonical field path (``payload.ring_targets[1]``) of the element an XSD error
    points at; ``path`` is libxml2's XPath of it (``/*/*[10]/*/*[3]``)."""
    try:
        found = root.getroottree().xpath(path) if path else []
    except etree.XPathError:
        found = []
    if not found or not isinstance(found[0].tag, str):
        return ""
    nodes: list[Any] = []
    node = found[0]
    while node is not None:
        nodes.append(node)
        node = node.getparent()
    nodes.reverse()
    if etree.QName(nodes[0]).localname == "Envelope":
        out, rest = "", nodes[1:]
        if len(rest) >= 2 and etree.QName(rest[0]).localname == "payload":
            rest = [rest[0], *rest[2:]]  # drop the message element inside <payload>
    else:
        out, rest = "payload", nodes[1:]
    for node in rest:
        local = etree.QName(node).localname
        key = node.get("key")
        if key is not None:
            out += f".{key}"
        elif local == "item" or local.startswith("json-"):
            siblings = [n for n in node.getparent() if isinstance(n.tag, str)]
            out += f"[{siblings.index(node)}]"
        else:
            out = f"{out}.{local}" if out else local
    return out
