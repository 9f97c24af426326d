"""Canonical JSON and XML from outside: random and mutated bytes, unsafe XML in every
disguise, huge and deeply nested documents. Each ends as a valid envelope or one of our
errors (``bus/errors.py``) saying why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from bus.envelope import Envelope, decode
from bus.errors import EsbError, MalformedMessage, SchemaViolation, UnknownMessageType, UnsafeXml
from bus.schema import codec_for, default_registry, parse_xml
from tests.fuzz.bounds import bounded, fuzz_settings

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples"
REGISTRY = default_registry()
CODEC = codec_for(REGISTRY)
SAMPLES: dict[str, dict[str, Any]] = {
    path.stem: json.loads(path.read_text()) for path in sorted(EXAMPLES.glob("*.json"))
}
JSON_BODIES = {name: orjson.dumps(sample) for name, sample in SAMPLES.items()}
XML_BODIES = {name: CODEC.envelope_to_xml(sample) for name, sample in SAMPLES.items()}
SAMPLE_NAMES = st.sampled_from(sorted(SAMPLES))

JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)


@st.composite
def mutated(draw: st.DrawFn, body: bytes) -> bytes:
    """``body`` with a few bytes flipped, deleted, inserted or a slice duplicated."""
    data = bytearray(body)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        action = draw(st.sampled_from(["flip", "delete", "insert", "duplicate", "truncate"]))
        if action == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif action == "delete":
            del data[at:at + draw(st.integers(1, 16))]
        elif action == "insert":
            data[at:at] = draw(st.sampled_from([b"<", b">", b"&", b"\x00", b"\xff", b'"', b"{",
                                                b"]]>", b"<!--", b"&amp;", b"\\u0000", b"\xd0"]))
        elif action == "duplicate":
            data[at:at] = data[at:at + draw(st.integers(1, 64))]
        else:
            del data[at:]
    return bytes(data)


def read_json(body: bytes) -> Envelope:
    envelope = decode(body, max_bytes=1024 * 1024)
    REGISTRY.validate_envelope(envelope.to_dict())
    return envelope


@fuzz_settings(300)
@given(st.binary(max_size=2048))
def test_random_bytes_are_refused_as_malformed_by_every_reader(body: bytes) -> None:
    for read in (read_json, CODEC.envelope_from_xml, CODEC.from_xml, parse_xml):
        outcome = bounded(lambda read=read: read(body))  # type: ignore[misc]
        if outcome.error is None:  # only a real document gets through
            assert read is parse_xml, f"{read} accepted {body!r}"


@fuzz_settings(300)
@given(SAMPLE_NAMES.flatmap(lambda name: mutated(JSON_BODIES[name])))
def test_mutated_json_envelopes_end_valid_or_refused_naming_the_problem(body: bytes) -> None:
    outcome = bounded(lambda: read_json(body))
    if outcome.error is None:
        assert outcome.value is not None
        REGISTRY.validate(outcome.value.type, outcome.value.payload)
    elif isinstance(outcome.error, SchemaViolation) and outcome.error.field:
        assert str(outcome.error).startswith(outcome.error.field)


@fuzz_settings(300)
@given(SAMPLE_NAMES.flatmap(lambda name: mutated(XML_BODIES[name])))
def test_mutated_xml_envelopes_end_valid_or_refused_naming_the_problem(body: bytes) -> None:
    outcome = bounded(lambda: CODEC.envelope_from_xml(body))
    if outcome.error is None:
        assert outcome.value is not None
        REGISTRY.validate_envelope(outcome.value)


@fuzz_settings(100)
@given(SAMPLE_NAMES, st.data())
def test_any_field_replaced_by_any_json_value_is_valid_or_a_violation_naming_a_field(
    name: str, data: st.DataObject,
) -> None:
    envelope = json.loads(JSON_BODIES[name])
    node: Any = envelope
    path: list[str] = []
    while isinstance(node, dict) and node and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(node)))
        path.append(key)
        if not isinstance(node[key], dict) or not node[key]:
            break
        node = node[key]
    if isinstance(node, dict):
        node[path[-1] if path and path[-1] in node else data.draw(st.text(max_size=8))] = (
            data.draw(JSON_VALUES))
    outcome = bounded(lambda: REGISTRY.validate_envelope(envelope))
    if isinstance(outcome.error, SchemaViolation):
        assert outcome.error.field == "" or str(outcome.error).startswith(outcome.error.field)
    elif outcome.error is not None:
        assert isinstance(outcome.error, UnknownMessageType | MalformedMessage)


UNSAFE_DECLARATIONS = [
    b'<!DOCTYPE Envelope [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    b'<!DOCTYPE Envelope SYSTEM "http://127.0.0.1:9/evil.dtd">',
    b'<!DOCTYPE Envelope PUBLIC "-//E//DTD//EN" "http://127.0.0.1:9/evil.dtd">',
    b'<!DOCTYPE Envelope [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]>',
    b'<!DOCTYPE Envelope [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
    b"<!doctype Envelope>",
    b'<!DOCTYPE Envelope [<!ELEMENT Envelope ANY><!ATTLIST Envelope a CDATA "x">]>',
]


@fuzz_settings(200)
@given(SAMPLE_NAMES, st.sampled_from(UNSAFE_DECLARATIONS),
       st.sampled_from(["utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32"]),
       st.sampled_from(["", "\n", "  \r\n", "<!-- c -->"]), st.booleans())
def test_a_dtd_or_entity_declaration_is_refused_as_unsafe_in_any_encoding_or_spot(
    name: str, declaration: bytes, encoding: str, gap: str, with_prolog: bool,
) -> None:
    document = XML_BODIES[name].decode().split("?>", 1)[1]
    prolog = f'<?xml version="1.0" encoding="{encoding}"?>' if with_prolog else ""
    text = prolog + gap + declaration.decode() + gap + document
    body = text.encode(encoding)
    clean = (prolog + gap + document).encode(encoding)
    for read in (CODEC.envelope_from_xml, parse_xml):
        outcome = bounded(lambda read=read: read(body))  # type: ignore[misc]
        assert isinstance(outcome.error, MalformedMessage), outcome
        if not isinstance(outcome.error, UnsafeXml):
            # only when the same document without the declaration is unreadable too
            without = bounded(lambda read=read: read(clean))  # type: ignore[misc]
            assert isinstance(without.error, MalformedMessage), (body, outcome.error)


@fuzz_settings(20)
@given(st.integers(300, 60_000), st.sampled_from(["xml", "json"]))
def test_deep_nesting_is_refused_in_bounded_time_and_memory(depth: int, kind: str) -> None:
    if kind == "xml":
        body = b"<a>" * depth + b"</a>" * depth
        error = bounded(lambda: CODEC.envelope_from_xml(body)).error
    else:
        body = b'{"id":"1","payload":' + b"[" * depth + b"]" * depth + b"}"
        error = bounded(lambda: read_json(body)).error
    assert isinstance(error, EsbError)


@fuzz_settings(10)
@given(SAMPLE_NAMES, st.integers(1, 4))
def test_documents_over_the_size_limit_are_refused_before_parsing(name: str, megabytes: int
                                                                  ) -> None:
    sample = SAMPLES[name]
    padded = {**sample, "headers": {**sample["headers"], "pad": "x" * (megabytes << 20)}}
    limit = 512 * 1024
    for body, read in ((orjson.dumps(padded), lambda b: decode(b, max_bytes=limit)),
                       (CODEC.envelope_to_xml(sample) + b" " * (megabytes << 20),
                        lambda b: CODEC.envelope_from_xml(b, max_bytes=limit))):
        outcome = bounded(lambda body=body, read=read: read(body),  # type: ignore[misc]
                          max_peak_bytes=2 * len(body) + (1 << 20))
        assert type(outcome.error).__name__ == "MessageTooLarge", outcome
