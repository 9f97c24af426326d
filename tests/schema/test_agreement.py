"""JSON Schema and XSD agree: what one accepts the other accepts, and what it refuses.

Valid payloads drawn from the JSON Schemas pass the XSD once written as XML: see
``test_round_trip.py``, which checks that on the same draws. Here: invalid
payloads, written as XML by the codec's raw writer (which does not validate),
are refused by both sides, and the fast check agrees with jsonschema.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from bus.errors import SchemaViolation
from bus.schema import SchemaRegistry, XmlCodec, parse_xml
from bus.schema.fastcheck import compile_check
from tests.schema.conftest import MESSAGE_TYPES
from tests.schema.strategies import JSON_VALUES

FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reference_valid(registry: SchemaRegistry, message_type: str, payload: Any) -> bool:
    try:
        registry.validate_reference(message_type, payload)
    except SchemaViolation:
        return False
    return True


def raw_xml(codec: XmlCodec, message_type: str, payload: Any) -> Any:
    """The payload written as XML without validating it first."""
    return codec._payload_element(message_type, payload)


def xsd_accepts(codec: XmlCodec, root: Any) -> bool:
    try:
        codec.xsd.validate(parse_xml(etree.tostring(root)))
    except SchemaViolation:
        return False
    return True


@pytest.mark.parametrize("message_type", MESSAGE_TYPES)
@FAST
@given(data=st.data())
def test_fast_check_and_jsonschema_agree_on_mutated_payloads(
    registry: SchemaRegistry, message_type: str, data: st.DataObject
) -> None:
    """The fast path of validate() accepts exactly what jsonschema accepts."""
    info = registry.describe(message_type)
    assert info.example is not None
    payload = orjson.loads(info.example.read_bytes())["payload"]
    mutated = data.draw(mutations(payload))
    check = compile_check(registry.shape(message_type))
    assert check(mutated) == reference_valid(registry, message_type, mutated)


def mutations(payload: Any) -> st.SearchStrategy[Any]:
    """Replace, drop or add one value somewhere in the payload."""
    paths = list(_paths(payload, ()))

    def mutate(args: tuple[tuple[Any, ...], str, Any, str]) -> Any:
        path, action, value, key = args
        out = copy.deepcopy(payload)
        parent: Any = out
        for step in path[:-1]:
            parent = parent[step]
        if not path:
            return value if action == "replace" else out
        last = path[-1]
        if action == "replace":
            parent[last] = value
        elif action == "drop" and isinstance(parent, dict):
            del parent[last]
        elif isinstance(parent, dict):
            parent[key] = value
        return out

    return st.tuples(
        st.sampled_from(paths),
        st.sampled_from(["replace", "drop", "add"]),
        st.one_of(NEAR_MISSES, JSON_VALUES),
        st.sampled_from(["linkedid", "zz_extra", "person", "company", "n", "key"]),
    ).map(mutate)


NEAR_MISSES = st.sampled_from(
    [
        "",
        "2001",
        "x",
        "+79123456789",
        "89123456789",
        "2024-03-12T06:15:07Z",
        "2024-03-12T06:15:07Z\n",
        "2024-03-12",
        "2024-03-12\n",
        "12.50",
        "RUB",
        "2465012345",
        "Я" * 257,
        "a\x00b",
        "\ufffe",
        0,
        -1,
        1,
        1.0,
        0.5,
        127,
        128,
        10**20,
        True,
        False,
        None,
        [],
        {},
        ["2001"],
        {"amount": "1", "currency": "RUB"},
        {"last_name": "Ли"},
        {"legal_name": "ООО"},  # noqa: RUF001
    ]
)


def _paths(value: Any, prefix: tuple[Any, ...]) -> Any:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


ENDED = {
    "linkedid": "1710224107.1837",
    "direction": "inbound",
    "caller_number": "+79123456789",
    "called_number": "73912001122",
    "queue": "support",
    "ring_targets": ["2001", "2002"],
    "answered_by_extension": "2002",
    "started_at": "2024-03-12T06:15:07.000715Z",
    "answered_at": "2024-03-12T06:15:26.491611Z",
    "ended_at": "2024-03-12T06:17:01.499504Z",
    "ring_seconds": 8,
    "talk_seconds": 95,
    "disposition": "answered",
    "transferred_to": None,
    "hangup_cause": 16,
}
PERSON = {"id": "crm-1", "person": {"last_name": "Иванова"}}
COMPANY = {"id": "crm-2", "company": {"legal_name": "ООО «Ромашка»"}}  # noqa: RUF001

Edit = Callable[[Any], None]


def _append(tag: str, text: str) -> Edit:
    def edit(root: Any) -> None:
        etree.SubElement(root, f"{{{root.nsmap[None]}}}{tag}").text = text

    return edit


INVALID: list[tuple[str, str, dict[str, Any], Edit | None]] = [
    ("caller number with a space", "pbx.call.ended.v1", {**ENDED, "caller_number": "+7 912"}, None),
    ("unknown disposition", "pbx.call.ended.v1", {**ENDED, "disposition": "lost"}, None),
    ("negative ring time", "pbx.call.ended.v1", {**ENDED, "ring_seconds": -1}, None),
    ("fractional talk time", "pbx.call.ended.v1", {**ENDED, "talk_seconds": 9.5}, None),
    ("hangup cause out of Q.850 range", "pbx.call.ended.v1", {**ENDED, "hangup_cause": 200}, None),
    (
        "required linkedid missing",
        "pbx.call.ended.v1",
        {k: v for k, v in ENDED.items() if k != "linkedid"},
        None,
    ),
    (
        "required-but-nullable queue missing",
        "pbx.call.ended.v1",
        {k: v for k, v in ENDED.items() if k != "queue"},
        None,
    ),
    ("direction null though not nullable", "pbx.call.ended.v1", {**ENDED, "direction": None}, None),
    (
        "ring target not an extension",
        "pbx.call.ended.v1",
        {**ENDED, "ring_targets": ["2001", "x"]},
        None,
    ),
    (
        "timestamp without offset",
        "pbx.call.ended.v1",
        {**ENDED, "ended_at": "2024-03-12T06:17:01"},
        None,
    ),
    ("unexpected property", "pbx.call.ended.v1", {**ENDED, "bogus": "1"}, _append("bogus", "1")),
    (
        "customer both person and company",
        "crm.customer.changed.v1",
        {"change": "updated", "customer": {**PERSON, "company": COMPANY["company"]}},
        None,
    ),
    (
        "customer neither person nor company",
        "crm.customer.changed.v1",
        {"change": "updated", "customer": {"id": "crm-3"}},
        None,
    ),
    (
        "passport number with spaces",
        "crm.customer.changed.v1",
        {
            "change": "updated",
            "customer": {"id": "c", "person": {"last_name": "Ли", "passport": {"number": "34 56"}}},
        },
        None,
    ),
    ("phone not E.164", "crm.customer.requested.v1", {"phone": "89123456789"}, None),
    (
        "two lookup keys",
        "crm.customer.requested.v1",
        {"phone": "+79123456789", "inn": "2465012345"},
        None,
    ),
    (
        "amount with a comma",
        "billing.balance.changed.v1",
        {
            "account_number": "1",
            "balance": {"amount": "12,50", "currency": "RUB"},
            "reason": "payment",
            "changed_at": "2024-03-12T07:31:00Z",
        },
        None,
    ),
    (
        "lower-case currency",
        "billing.balance.changed.v1",
        {
            "account_number": "1",
            "balance": {"amount": "1", "currency": "rub"},
            "reason": "payment",
            "changed_at": "2024-03-12T07:31:00Z",
        },
        None,
    ),
    (
        "name over 256 characters",
        "crm.manager.changed.v1",
        {"change": "created", "manager": {"id": "m", "last_name": "Я" * 257, "first_name": "А"}},  # noqa: RUF001
        None,
    ),
    (
        "bad e-mail",
        "crm.manager.changed.v1",
        {
            "change": "created",
            "manager": {"id": "m", "last_name": "Я", "first_name": "А", "email": "a@b"},  # noqa: RUF001
        },
        None,
    ),
    (
        "no retired ids",
        "sync.customer.merged.v1",
        {"golden_id": "g", "retired_ids": [], "customer": PERSON, "sources": []},
        None,
    ),
    (
        "confidence above 1",
        "sync.customer.merged.v1",
        {
            "golden_id": "g",
            "retired_ids": ["h"],
            "customer": PERSON,
            "sources": [],
            "confidence": 1.5,
        },
        None,
    ),
    (
        "document kind unknown",
        "docflow.document.changed.v1",
        {
            "change": "created",
            "document": {"id": "d", "kind": "memo", "number": "1", "date": "2024-03-01"},
        },
        None,
    ),
    (
        "impossible date",
        "docflow.document.changed.v1",
        {
            "change": "created",
            "document": {"id": "d", "kind": "act", "number": "1", "date": "2024-13-01"},
        },
        None,
    ),
]


@pytest.mark.parametrize(
    ("case", "message_type", "payload", "edit"), INVALID, ids=[c[0] for c in INVALID]
)
def test_invalid_payload_is_refused_by_json_schema_and_by_xsd(
    registry: SchemaRegistry,
    codec: XmlCodec,
    case: str,
    message_type: str,
    payload: dict[str, Any],
    edit: Edit | None,
) -> None:
    assert not reference_valid(registry, message_type, payload)
    with pytest.raises(SchemaViolation):
        registry.validate(message_type, payload)
    root = raw_xml(codec, message_type, payload)
    if edit is not None:
        edit(root)
    assert not xsd_accepts(codec, root)


def test_valid_neighbours_of_the_invalid_cases_are_accepted_by_both(
    registry: SchemaRegistry, codec: XmlCodec
) -> None:
    for message_type, payload in [
        ("pbx.call.ended.v1", ENDED),
        ("crm.customer.changed.v1", {"change": "updated", "customer": COMPANY}),
        ("crm.customer.requested.v1", {"inn": "2465012345"}),
        (
            "sync.customer.merged.v1",
            {
                "golden_id": "g",
                "retired_ids": ["h"],
                "customer": PERSON,
                "sources": [],
                "confidence": 1,
            },
        ),
    ]:
        assert reference_valid(registry, message_type, payload)
        assert xsd_accepts(codec, raw_xml(codec, message_type, payload))


def test_xsd_refuses_a_map_with_a_repeated_key(codec: XmlCodec) -> None:
    payload = {
        "id": "i",
        "channel": "call",
        "occurred_at": "2024-03-12T06:15:07Z",
        "attributes": {"queue": "support"},
    }
    root = raw_xml(codec, "crm.interaction.logged.v1", payload)
    attributes = root.find(f"{{{codec.ns}}}attributes")
    attributes.append(copy.deepcopy(attributes[0]))
    assert not xsd_accepts(codec, root)


def test_xsd_refuses_a_repeated_key_in_an_open_object(codec: XmlCodec) -> None:
    root = raw_xml(codec, "test.thing.happened.v1", {"n": "1", "x": "a"})
    root.append(copy.deepcopy(root[-1]))
    assert not xsd_accepts(codec, root)
