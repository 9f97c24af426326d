"""The canonical JSON Schemas as AsyncAPI component schemas.

AsyncAPI 2.6 schemas are a superset of JSON Schema draft 07; ours are 2020-12 files
that ``$ref`` each other (``../common.json#/$defs/e164``). Each document and each of
its ``$defs`` becomes one named component (``Call``, ``E164``, ``PbxCallEndedV1``),
every ``$ref`` is rewritten to ``#/components/schemas/<Name>``, and a ``$ref`` with
sibling keywords (2020-12 applies both, draft 07 ignores the siblings) becomes
``{"allOf": [{"$ref": ...}], <siblings>}`` so nothing is lost.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin

__all__ = ["ComponentSchemas", "UnresolvableReference", "pascal"]

COMPONENTS = "#/components/schemas/"
_DROPPED = frozenset({"$schema", "$id", "$defs"})
_DATA = frozenset({"enum", "const", "default", "examples"})
"""Keywords whose values are data, not schemas: copied as they are."""


class UnresolvableReference(ValueError):
    """A ``$ref`` names no document or definition of the schema set."""


def pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[._\-/]", name) if part)


class ComponentSchemas:
    """Names every document and definition once; converts any of them on request."""

    def __init__(self, documents: Mapping[str, Mapping[str, Any]], base_uri: str) -> None:
        self.documents = documents
        self.base_uri = base_uri
        self.names: dict[str, str] = {}
        taken: set[str] = set()
        for uri in sorted(documents):
            definitions = documents[uri].get("$defs", {})
            for fragment in ["", *(f"/$defs/{key}" for key in sorted(definitions))]:
                name = self._name(uri, fragment, taken)
                taken.add(name)
                self.names[f"{uri}#{fragment}"] = name

    def _name(self, uri: str, fragment: str, taken: set[str]) -> str:
        stem = uri.removeprefix(self.base_uri).rsplit("/", 1)[-1].removesuffix(".json")
        definition = fragment.rsplit("/", 1)[-1]
        own = pascal(stem) + pascal(definition) if uri.startswith(
            self.base_uri + "messages/") else pascal(definition or stem)
        return own if own not in taken else pascal(stem) + pascal(definition)

    def name_of(self, uri: str) -> str:
        """The component name of a document URI (``…/entities/call.json`` -> ``Call``)."""
        return self.names[f"{uri}#"]

    def all(self) -> dict[str, Any]:
        """Every document and definition, converted, by component name."""
        converted: dict[str, Any] = {}
        for key, name in sorted(self.names.items(), key=lambda item: item[1]):
            uri, _, fragment = key.partition("#")
            node: Any = self.documents[uri]
            for part in [p for p in fragment.split("/") if p]:
                node = node[part]
            converted[name] = self.convert(node, uri)
        return converted

    def reference(self, ref: str, base: str) -> str:
        target = urljoin(base, ref)
        document, _, fragment = target.partition("#")
        name = self.names.get(f"{document}#{fragment}")
        if name is None:
            raise UnresolvableReference(f"{ref!r} in {base} names no schema or definition")
        return COMPONENTS + name

    def convert(self, node: Any, base: str) -> Any:
        if isinstance(node, list):
            return [self.convert(item, base) for item in node]
        if not isinstance(node, Mapping):
            return node
        out = {key: value if key in _DATA else self.convert(value, base)
               for key, value in node.items() if key not in _DROPPED and key != "$ref"}
        if "$ref" not in node:
            return out
        target = {"$ref": self.reference(str(node["$ref"]), base)}
        return {"allOf": [target], **out} if out else target
