"""The canonical model as data, and the machinery around it.

``schemas/`` (top level) holds the JSON Schemas (the source), the XSD generated
from them, ``catalog.json`` (message type -> schema, XSD element, description)
and one example envelope per type. This package loads them and offers:

* :class:`SchemaRegistry` / :func:`default_registry` - known types, ``validate``
  (raises :class:`~bus.errors.SchemaViolation` naming the field),
  ``validate_envelope``, ``describe``;
* :func:`parse_xml` - XML parsing that refuses DTDs, entities, bombs, oversize;
* :func:`envelope_to_xml` / :func:`envelope_from_xml` / :func:`to_xml` /
  :func:`from_xml` - lossless JSON <-> XML following the schemas;
* :func:`validate_file` - check a JSON or XML message file.
"""

from __future__ import annotations

from bus.schema.files import validate_file
from bus.schema.registry import MessageTypeInfo, SchemaRegistry, default_registry, locate_schemas
from bus.schema.safe_xml import DEFAULT_MAX_BYTES, parse_xml
from bus.schema.xml_codec import (
    XmlCodec,
    codec_for,
    envelope_from_xml,
    envelope_to_xml,
    from_xml,
    to_xml,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MessageTypeInfo",
    "SchemaRegistry",
    "XmlCodec",
    "codec_for",
    "default_registry",
    "envelope_from_xml",
    "envelope_to_xml",
    "from_xml",
    "locate_schemas",
    "parse_xml",
    "to_xml",
    "validate_envelope",
    "validate_file",
    "validate_payload",
]


def validate_payload(message_type: str, payload: object) -> None:
    """``default_registry().validate(message_type, payload)``."""
    default_registry().validate(message_type, payload)


def validate_envelope(envelope: object, *, payload: bool = True) -> str:
    """``default_registry().validate_envelope(envelope)``: check it, return its type."""
    return default_registry().validate_envelope(envelope, payload=payload)
