"""The catalog is complete and consistent: every type has its JSON Schema, XSD element, example."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest
from lxml import etree

from bus.errors import ConfigurationError, UnknownMessageType
from bus.schema import SchemaRegistry, validate_file
from bus.schema.registry import CanonicalValidator, locate_schemas
from bus.schema.xsd import FILES, generate_xsd
from tests.schema.conftest import MESSAGE_TYPES, SCHEMAS

XS = "{http://www.w3.org/2001/XMLSchema}"

REQUIRED_TYPES = {
    "pbx.call.ringing.v1",
    "pbx.call.answered.v1",
    "pbx.call.transferred.v1",
    "pbx.call.ended.v1",
    "pbx.agent.presence.v1",
    "crm.customer.changed.v1",
    "crm.interaction.logged.v1",
    "billing.account.changed.v1",
    "billing.balance.changed.v1",
    "docflow.document.changed.v1",
    "sync.customer.merged.v1",
    "sync.customer.updated.v1",
    "pbx.route.requested.v1",
    "pbx.route.decided.v1",
    "crm.customer.requested.v1",
    "crm.customer.replied.v1",
    "billing.accounts.requested.v1",
    "billing.accounts.replied.v1",
    "test.thing.happened.v1",
}


def xsd_elements() -> dict[str, etree._Element]:
    tree = etree.parse(str(SCHEMAS / "xsd" / "messages.xsd"))
    return {str(e.get("name")): e for e in tree.getroot().iter(f"{XS}element") if e.get("name")}


def test_catalog_lists_every_message_type_the_bus_needs(registry: SchemaRegistry) -> None:
    assert set(registry.known_types()) >= REQUIRED_TYPES


@pytest.mark.parametrize("message_type", MESSAGE_TYPES)
def test_every_type_has_json_schema_xsd_element_and_valid_example(
    registry: SchemaRegistry, message_type: str
) -> None:
    info = registry.describe(message_type)
    assert info.json_schema.is_file()
    assert info.description
    element = xsd_elements()[info.xsd_element]
    assert element.get("substitutionGroup") == "c:Payload"
    assert info.example is not None and info.example.is_file()
    assert validate_file(info.example) == message_type
    assert orjson.loads(info.example.read_bytes())["type"] == message_type


def test_every_schema_is_valid_json_schema_2020_12(registry: SchemaRegistry) -> None:
    for document in registry.documents().values():
        CanonicalValidator.check_schema(document)


def test_every_schema_stays_inside_the_canonical_dialect(registry: SchemaRegistry) -> None:
    for message_type in MESSAGE_TYPES:
        registry.shape(message_type)
    for uri in registry.documents():
        relative = uri.split("/schemas/json/", 1)[1]
        if relative.startswith("entities/"):
            registry.named_shape(relative)


def test_committed_xsd_files_are_generated_from_the_json_schemas(registry: SchemaRegistry) -> None:
    generated = generate_xsd(registry)
    assert set(generated) == set(FILES)
    for name, body in generated.items():
        committed = (SCHEMAS / "xsd" / name).read_bytes()
        assert committed == body, f"schemas/xsd/{name} is stale: run python -m bus.schema.xsd"


def test_xsd_compiles_as_xml_schema_1_0() -> None:
    etree.XMLSchema(etree.parse(str(SCHEMAS / "xsd" / "envelope.xsd")))


def test_catalog_and_message_schema_files_match_one_to_one(registry: SchemaRegistry) -> None:
    files = {p.name.removesuffix(".json") for p in (SCHEMAS / "json" / "messages").glob("*.json")}
    assert files == set(registry.known_types())
    examples = {p.name.removesuffix(".json") for p in (SCHEMAS / "examples").glob("*.json")}
    assert examples == set(registry.known_types())


def _copy_schemas(tmp_path: Path) -> Path:
    root = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, root)
    return root


def test_a_registered_type_without_a_schema_fails_to_load(tmp_path: Path) -> None:
    root = _copy_schemas(tmp_path)
    catalog = orjson.loads((root / "catalog.json").read_bytes())
    catalog["types"]["crm.ghost.appeared.v1"] = {
        "description": "no schema",
        "json_schema": "json/messages/crm.ghost.appeared.v1.json",
        "xsd_element": "CrmGhostAppearedV1",
    }
    (root / "catalog.json").write_bytes(orjson.dumps(catalog))
    with pytest.raises(ConfigurationError, match=r"crm\.ghost\.appeared\.v1: no JSON schema"):
        SchemaRegistry(root)


def test_a_message_schema_missing_from_the_catalog_fails_to_load(tmp_path: Path) -> None:
    root = _copy_schemas(tmp_path)
    shutil.copy(
        root / "json/messages/test.thing.happened.v1.json",
        root / "json/messages/test.thing.forgotten.v1.json",
    )
    with pytest.raises(ConfigurationError, match=r"not in catalog\.json"):
        SchemaRegistry(root)


def test_unknown_message_type_is_refused(registry: SchemaRegistry) -> None:
    with pytest.raises(UnknownMessageType, match=r"crm\.nothing\.happened\.v1"):
        registry.validate("crm.nothing.happened.v1", {})
    with pytest.raises(UnknownMessageType):
        registry.describe("crm.nothing.happened.v1")


def test_schemas_are_found_through_the_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _copy_schemas(tmp_path)
    monkeypatch.setenv("ESB_SCHEMAS_DIR", str(root))
    assert locate_schemas() == root
    assert SchemaRegistry().known_types() == tuple(sorted(REQUIRED_TYPES | set(MESSAGE_TYPES)))
    monkeypatch.setenv("ESB_SCHEMAS_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigurationError, match="ESB_SCHEMAS_DIR"):
        locate_schemas()


def test_describe_gives_the_catalog_entry(registry: SchemaRegistry) -> None:
    info = registry.describe("pbx.call.ended.v1")
    assert info.xsd_element == "PbxCallEndedV1"
    assert {**info}["xsd_element"] == "PbxCallEndedV1"  # reads as a mapping too
    assert info.json_schema == SCHEMAS / "json/messages/pbx.call.ended.v1.json"
    assert "ended" in info.description


def test_a_schema_outside_the_dialect_stops_the_registry_at_start(tmp_path: Path) -> None:
    root = _copy_schemas(tmp_path)
    path = root / "json/messages/test.thing.happened.v1.json"
    schema = orjson.loads(path.read_bytes())
    schema["properties"]["n"] = {"const": "1"}
    path.write_bytes(orjson.dumps(schema))
    with pytest.raises(ConfigurationError, match="const"):
        SchemaRegistry(root)
