"""``esb asyncapi``: an AsyncAPI 2.6 document of every installed adapter's messages."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator

from bus.adapters import discover
from bus.asyncapi import asyncapi_document, matching
from bus.schema import default_registry
from tests.esb_processes import Deployment, esb

AMQP_EXCHANGE_TYPES = {"topic", "direct", "fanout", "default", "headers"}


def declared_types() -> set[str]:
    """What the installed adapters say they consume, publish, subscribe to or reply with."""
    found: set[str] = set()
    known = default_registry().known_types()
    for loaded in discover():
        if loaded.adapter_class is None:
            continue
        manifest = loaded.adapter_class.manifest
        found |= set(manifest.consumes) | set(manifest.publishes)
        for sub in loaded.adapter_class.router.subscriptions:
            for pattern in sub.patterns:
                found |= set(matching(pattern, known)) if "*" in pattern or "#" in pattern \
                    else {pattern}
            if sub.reply_type:
                found.add(sub.reply_type)
    return found


def pointer(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def references(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for key, value in node.items() if key not in ("enum", "const",
                      "examples") for r in references(value)]
    if isinstance(node, list):
        return [r for item in node for r in references(item)]
    return []


def payload_validator(document: dict[str, Any], message: dict[str, Any]) -> Draft7Validator:
    """The message's payload schema, its ``#/components/...`` refs resolved in the document."""
    return Draft7Validator({"allOf": [message["payload"]],
                            "components": document["components"]})


def test_esb_asyncapi_writes_a_document_of_every_declared_type(
    deployment: Deployment, tmp_path: Path,
) -> None:
    target = tmp_path / "docs" / "asyncapi.json"

    result = esb("asyncapi", "-o", str(target), env=deployment.env())

    assert result.returncode == 0, result.stderr
    document = json.loads(target.read_text(encoding="utf-8"))
    registry_types = set(default_registry().known_types())
    declared = declared_types()
    assert document["asyncapi"] == "2.6.0"
    assert set(document["channels"]) == declared & registry_types
    assert set(document["x-esb-unknown-types"]) == declared - registry_types
    assert f"{len(document['channels'])} channels" in result.stdout


def test_the_document_has_the_asyncapi_structure_and_every_reference_resolves() -> None:
    document = asyncapi_document(discover(), default_registry(), exchange="x.events")

    assert isinstance(document["info"]["title"], str)
    assert isinstance(document["info"]["version"], str)
    operation_ids = []
    for name, channel in document["channels"].items():
        operations = [channel[k] for k in ("publish", "subscribe") if k in channel]
        assert operations, f"{name} has no operation"
        for operation in operations:
            operation_ids.append(operation["operationId"])
            message = pointer(document, operation["message"]["$ref"])
            assert message["name"] == name
            assert set(operation) <= {"operationId", "summary", "description", "tags",
                                      "message", "bindings", "traits", "security",
                                      "externalDocs"} | {k for k in operation if k[:2] == "x-"}
        amqp = channel["bindings"]["amqp"]
        assert amqp["is"] == "routingKey"
        assert (amqp["exchange"]["name"], amqp["exchange"]["type"]) == ("x.events", "topic")
        assert amqp["exchange"]["type"] in AMQP_EXCHANGE_TYPES
    assert len(operation_ids) == len(set(operation_ids))
    for ref in references(document):
        pointer(document, ref)  # a KeyError is a dangling reference
    for name, schema in document["components"]["schemas"].items():
        Draft7Validator.check_schema(schema)  # AsyncAPI 2.6 schemas extend draft 07
        assert "$defs" not in json.dumps(schema), name


def test_each_message_schema_accepts_its_example_and_refuses_a_broken_one() -> None:
    registry = default_registry()
    document = asyncapi_document(discover(), registry)
    messages = document["components"]["messages"]

    checked = 0
    for message in messages.values():
        for example in message.get("examples", []):
            errors = list(payload_validator(document, message).iter_errors(example["payload"]))
            assert errors == [], (message["name"], errors[0].message)
            checked += 1
    ended = messages["PbxCallEndedV1"]
    broken = copy.deepcopy(ended["examples"][0]["payload"])
    broken["payload"]["disposition"] = "lost"
    del broken["payload"]["linkedid"]
    wrong_type = {**ended["examples"][0]["payload"], "type": "pbx.call.ringing.v1"}

    assert checked == sum(1 for t in document["channels"]
                          if registry.describe(t).example is not None)
    assert not payload_validator(document, ended).is_valid(broken)
    assert not payload_validator(document, ended).is_valid(wrong_type)


def test_publishers_and_consumers_come_from_manifests_and_routers() -> None:
    document = asyncapi_document(discover(), default_registry(), queue_prefix="site")
    ended = document["channels"]["pbx.call.ended.v1"]
    calls = document["channels"]["pbx.calls.requested.v1"]
    replied = document["channels"]["pbx.calls.replied.v1"]

    assert {"pbx", "zadarma"} <= set(ended["subscribe"]["x-esb-publishers"])
    assert _call_store(ended["publish"]["x-esb-consumers"]) == {
        "adapter": "pbx", "subscription": "pbx.call-store", "queue": "site.pbx.call-store",
        "handler": "store_ended_call", "replies_with": None}
    [responder] = calls["publish"]["x-esb-consumers"]
    assert (responder["adapter"], responder["replies_with"]) == ("pbx", "pbx.calls.replied.v1")
    assert replied["subscribe"]["x-esb-publishers"] == ["pbx"]


def _call_store(consumers: list[dict[str, Any]]) -> dict[str, Any]:
    """The consumer entry of the call store, without its description."""
    [store] = [c for c in consumers if c.get("subscription") == "pbx.call-store"]
    return {k: store[k] for k in ("adapter", "subscription", "queue", "handler",
                                  "replies_with")}


def test_topic_patterns_expand_to_the_types_they_bind() -> None:
    types = ["pbx.call.ended.v1", "pbx.call.ringing.v1", "pbx.agent.presence.v1",
             "crm.customer.changed.v1"]

    assert matching("pbx.call.*.v1", types) == ["pbx.call.ended.v1", "pbx.call.ringing.v1"]
    assert matching("pbx.#", types) == types[:3]
    assert matching("#.changed.v1", types) == ["crm.customer.changed.v1"]
    assert matching("#", types) == types
    assert matching("pbx.call.ended.v1", types) == ["pbx.call.ended.v1"]
