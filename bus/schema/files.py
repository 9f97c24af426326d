"""Checking a message file, for ``esb schemas validate FILE``."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from bus.errors import MalformedMessage, MessageTooLarge
from bus.schema.registry import SchemaRegistry, default_registry
from bus.schema.safe_xml import DEFAULT_MAX_BYTES
from bus.schema.xml_codec import codec_for

__all__ = ["validate_file"]


def validate_file(
    path: str | os.PathLike[str],
    *,
    registry: SchemaRegistry | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> str:
    """Check a JSON or XML envelope file (or an XML payload document); return its message type.

    The format is told by the first character (``{`` or ``<``), not by the file name.
    Every failure is an :class:`~bus.errors.EsbError` (the caller adds the path when it
    reports it); a :class:`~bus.errors.SchemaViolation` names the field, in ``field``
    and at the start of its text.
    """
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > max_bytes:
            raise MessageTooLarge(f"file of {size} bytes exceeds the limit of {max_bytes}")
        data = file.read_bytes()
    except OSError as error:
        raise MalformedMessage(f"cannot read the file: {error.strerror or error}") from None
    start = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    registry = registry or default_registry()
    if start == b"{":
        try:
            envelope = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            raise MalformedMessage(f"not valid JSON: {error}") from None
        return registry.validate_envelope(envelope)
    if start == b"<" or data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return codec_for(registry).message_type_of_xml(data, max_bytes=max_bytes)
    raise MalformedMessage("neither a JSON envelope (starts with '{') nor XML (starts with '<')")
