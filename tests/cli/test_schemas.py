"""``esb schemas list|validate``: the canonical message types, and checking a file against them."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.esb_processes import EXAMPLES, Deployment, esb, json_lines

CATALOG = EXAMPLES.parent / "catalog.json"


def test_a_catalog_example_is_valid(deployment: Deployment) -> None:
    example = EXAMPLES / "pbx.call.ended.v1.json"

    result = esb("schemas", "validate", str(example), env=deployment.env())

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{example}: valid pbx.call.ended.v1"


def test_a_broken_envelope_fails_naming_the_field(deployment: Deployment, tmp_path: Path) -> None:
    envelope = orjson.loads((EXAMPLES / "pbx.call.ended.v1.json").read_bytes())
    envelope["payload"]["talk_seconds"] = "ninety-five"
    broken = tmp_path / "broken.json"
    broken.write_bytes(orjson.dumps(envelope))

    result = esb("schemas", "validate", str(broken), env=deployment.env())

    assert result.returncode != 0
    assert "valid" not in result.stdout
    assert "payload.talk_seconds" in result.stderr
    assert "Traceback" not in result.stderr


def test_schemas_list_prints_one_json_object_per_message_type(deployment: Deployment) -> None:
    result = esb("schemas", "list", "--json", env=deployment.env())

    assert result.returncode == 0, result.stderr
    rows = json_lines(result.stdout)
    types = [row["type"] for row in rows]
    assert len(types) == len(set(types))
    assert set(types) == set(orjson.loads(CATALOG.read_bytes())["types"])
    assert all(row["description"] for row in rows)
