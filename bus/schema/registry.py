"""The schema registry: which message types exist, and is this payload one of them.

The schemas are data in the top-level ``schemas/`` directory (``catalog.json``,
``json/``, ``xsd/``). The registry finds it through, in order: the ``root``
argument, the ``ESB_SCHEMAS_DIR`` environment variable, the repository the
package was imported from, a copy packaged in ``bus/schema/_schemas``.

``validate`` is on the hot path of every publish and consume: each type's
payload is first checked by a compiled check (:mod:`bus.schema.fastcheck`,
a few microseconds); only an invalid payload goes through :mod:`jsonschema`,
the reference implementation, which finds the error to report.

Every shape is compiled when the registry is made, so a schema that leaves the
dialect (see :mod:`bus.schema.dialect`) stops the process at start-up.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.exceptions import best_match
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from bus.envelope import MESSAGE_TYPE_PATTERN
from bus.errors import ConfigurationError, SchemaViolation, UnknownMessageType
from bus.schema.compiler import Compiler
from bus.schema.dialect import DialectError, Object, Slot, ecma_search
from bus.schema.fastcheck import compile_check
from bus.schema.paths import field_path, relevant, violation, violation_message

__all__ = ["BASE_URI", "MessageTypeInfo", "SchemaRegistry", "default_registry", "locate_schemas"]

BASE_URI = "https://telecom-esb.invalid/schemas/json/"
"""Where the registry places ``schemas/json/`` in URI space (never fetched)."""

ENV_VAR = "ESB_SCHEMAS_DIR"

log = logging.getLogger("bus.schema")


def locate_schemas(root: str | os.PathLike[str] | None = None) -> Path:
    """The schemas directory: ``root``; else ``$ESB_SCHEMAS_DIR``; else the repository's
    ``schemas/`` (a source checkout); else a copy packaged as ``bus/schema/_schemas``."""
    if root is not None:
        candidates = [("the root argument", Path(root))]
    elif os.environ.get(ENV_VAR):
        candidates = [(ENV_VAR, Path(os.environ[ENV_VAR]))]
    else:
        here = Path(__file__).resolve().parent
        candidates = [
            ("the repository", here.parents[1] / "schemas"),
            ("the package", here / "_schemas"),
        ]
    for _, path in candidates:
        if (path / "catalog.json").is_file():
            return path
    tried = ", ".join(f"{path} ({origin})" for origin, path in candidates)
    raise ConfigurationError(
        f"no schemas found at {tried}: expected catalog.json there; "
        f"set {ENV_VAR} to the directory holding catalog.json, json/ and xsd/"
    )


@dataclass(frozen=True, slots=True)
class MessageTypeInfo:
    """What the catalog says about one message type; also reads as a mapping (``{**info}``)."""

    type: str
    description: str
    json_schema: Path
    xsd_element: str
    example: Path | None

    def keys(self) -> tuple[str, ...]:
        return ("type", "description", "json_schema", "xsd_element", "example")

    def __getitem__(self, key: str) -> Any:
        if key not in self.keys():
            raise KeyError(key)
        return getattr(self, key)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterable[ValidationError]:
    if validator.is_type(instance, "string") and ecma_search(pattern)(instance) is None:
        yield ValidationError(f"does not match the pattern {pattern}")


def _is_integer(checker: Any, instance: Any) -> bool:
    """Canonical integers are written without a fraction: 5, not 5.0."""
    return isinstance(instance, int) and not isinstance(instance, bool)


CanonicalValidator = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    validators={"pattern": _pattern},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[._\-]", name) if part)


class SchemaRegistry:
    """The canonical message types, their schemas, and validation against them."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = locate_schemas(root)
        catalog = orjson.loads((self.root / "catalog.json").read_bytes())
        self.namespace: str = catalog["namespace"]
        self.xsd_path: Path = self.root / catalog["xsd"]
        self._documents = self._load_documents(self.root / "json")
        self._types: dict[str, MessageTypeInfo] = {}
        self._elements: dict[str, str] = {}
        for message_type, entry in sorted(catalog["types"].items()):
            example = entry.get("example")
            info = MessageTypeInfo(
                type=message_type,
                description=entry["description"],
                json_schema=self.root / entry["json_schema"],
                xsd_element=entry["xsd_element"],
                example=self.root / example if example else None,
            )
            self._types[message_type] = info
            self._elements[info.xsd_element] = message_type
        self._check_catalog()
        self.envelope_element: str = catalog["envelope"]["xsd_element"]
        self._envelope_uri = self._uri(self.root / catalog["envelope"]["json_schema"])
        resources = [
            (uri, DRAFT202012.create_resource(doc)) for uri, doc in self._documents.items()
        ]
        self._refs = Registry().with_resources(resources).crawl()
        self._compiler = Compiler(self._documents, self._namer)
        self._validators: dict[str, Any] = {}
        self._checks: dict[str, Callable[[Any], bool]] = {}
        self._shapes: dict[str, Slot] = {}
        self._envelope_shape: Object | None = None
        try:  # compile every shape now: a schema outside the dialect stops the process here
            for message_type in self._types:
                self.shape(message_type)
            self.envelope_shape()
        except DialectError as error:
            raise ConfigurationError(f"schemas at {self.root}: {error}") from None

    # -- the catalog ---------------------------------------------------------------------

    def known_types(self) -> tuple[str, ...]:
        return tuple(self._types)

    def describe(self, message_type: str) -> MessageTypeInfo:
        try:
            return self._types[message_type]
        except KeyError:
            raise UnknownMessageType(f"no schema is registered for {message_type!r}") from None

    def type_of_element(self, element: str) -> str:
        """The message type whose XSD root element is ``element``."""
        try:
            return self._elements[element]
        except KeyError:
            raise UnknownMessageType(f"no message type has the XML element {element!r}") from None

    def json_schema(self, message_type: str) -> dict[str, Any]:
        document: dict[str, Any] = self._documents[
            self._uri(self.describe(message_type).json_schema)
        ]
        return document

    def shape(self, message_type: str) -> Slot:
        """The dialect shape of the type's payload (what the XML codec and XSD follow)."""
        if message_type not in self._shapes:
            info = self.describe(message_type)
            self._shapes[message_type] = self._compiler.compile_document(
                self._uri(info.json_schema), info.xsd_element
            )
        return self._shapes[message_type]

    def envelope_shape(self) -> Object:
        if self._envelope_shape is None:
            shape = self._compiler.compile_document(self._envelope_uri, self.envelope_element)
            assert isinstance(shape.shape, Object)
            self._envelope_shape = shape.shape
        return self._envelope_shape

    def type_origin(self, name: str) -> str:
        """The URI of the JSON Schema document that defines the XSD type ``name``."""
        return self._compiler.origins[name]

    def type_description(self, name: str) -> str | None:
        """The JSON Schema description of the XSD type ``name``, if it has one."""
        return self._compiler.descriptions.get(name)

    def named_shape(self, relative: str) -> Slot:
        """The shape of a definition: ``entities/call.json``, ``common.json#/$defs/money``."""
        return Slot(self._compiler.named(BASE_URI + relative))

    def documents(self) -> Mapping[str, Any]:
        """Every JSON Schema document, by URI."""
        return self._documents

    # -- validation ----------------------------------------------------------------------

    def validate(self, message_type: str, payload: Any) -> None:
        """Raise :class:`SchemaViolation` naming the field (``payload.caller_number``)."""
        check = self._checks.get(message_type)
        if check is None:
            check = self._checks[message_type] = compile_check(self.shape(message_type))
        if check(payload):
            return
        self._raise(self._validator(message_type), payload, "payload")
        # Only reached when the fast check and jsonschema disagree: trust the reference.
        log.warning("fast check refused a payload jsonschema accepts (type %s)", message_type)

    def is_valid(self, message_type: str, payload: Any) -> bool:
        try:
            self.validate(message_type, payload)
        except SchemaViolation:
            return False
        return True

    def validate_reference(self, message_type: str, payload: Any) -> None:
        """Validate with :mod:`jsonschema` only (no fast path): for tests and tools."""
        self._raise(self._validator(message_type), payload, "payload")

    def validate_envelope(self, envelope: Any, *, payload: bool = True) -> str:
        """Check an envelope dict (and, by default, its payload); return its message type."""
        validator = self._validators.get("")
        if validator is None:
            validator = self._validators[""] = self._new_validator(self._envelope_uri)
        message_id = (
            str(envelope["id"]) if isinstance(envelope, dict) and "id" in envelope else None
        )
        self._raise(validator, envelope, "", message_id)
        message_type: str = envelope["type"]
        info = self.describe(message_type)
        version = int(message_type.rsplit(".v", 1)[1])
        declared = envelope.get("schema_version")
        if declared is not None and declared != version:
            raise violation(
                "schema_version",
                f"{declared} disagrees with the type's v{version}",
                message_id=message_id,
            )
        if payload:
            try:
                self.validate(info.type, envelope["payload"])
            except SchemaViolation as error:
                error.message_id = message_id
                raise
        return message_type

    def _validator(self, message_type: str) -> Any:
        validator = self._validators.get(message_type)
        if validator is None:
            uri = self._uri(self.describe(message_type).json_schema)
            validator = self._validators[message_type] = self._new_validator(uri)
        return validator

    def _new_validator(self, uri: str) -> Any:
        schema = self._documents[uri]
        CanonicalValidator.check_schema(schema)
        return CanonicalValidator(schema, registry=self._refs)

    @staticmethod
    def _raise(validator: Any, instance: Any, prefix: str, message_id: str | None = None) -> None:
        error = best_match(validator.iter_errors(instance))
        if error is not None:
            error = relevant(error)
            field = field_path(error, prefix)
            raise violation(field, violation_message(error), message_id=message_id)

    # -- loading -------------------------------------------------------------------------

    def _check_catalog(self) -> None:
        """Every catalog type has its schema file; every message schema is in the catalog."""
        problems: list[str] = []
        for info in self._types.values():
            if MESSAGE_TYPE_PATTERN.match(info.type) is None:
                problems.append(f"{info.type}: not <domain>.<entity>.<event>.v<N>")
            if self._uri(info.json_schema) not in self._documents:
                problems.append(f"{info.type}: no JSON schema at {info.json_schema}")
        listed = {self._uri(info.json_schema) for info in self._types.values()}
        for uri in self._documents:
            if uri.startswith(BASE_URI + "messages/") and uri not in listed:
                problems.append(
                    f"{uri.removeprefix(BASE_URI)}: a message schema not in catalog.json"
                )
        if len(self._elements) != len(self._types):
            problems.append("two message types share an XSD element name")
        if problems:
            raise ConfigurationError(
                f"schemas at {self.root} are inconsistent: " + "; ".join(problems)
            )

    def _uri(self, path: Path) -> str:
        return BASE_URI + path.relative_to(self.root / "json").as_posix()

    @staticmethod
    def _load_documents(directory: Path) -> dict[str, Any]:
        documents: dict[str, Any] = {}
        for path in sorted(directory.rglob("*.json")):
            document = orjson.loads(path.read_bytes())
            # Without $schema, jsonschema keeps our validator class across $refs instead of
            # switching to the stock 2020-12 one; the resources name their draft explicitly.
            document.pop("$schema", None)
            document.setdefault("$id", BASE_URI + path.relative_to(directory).as_posix())
            documents[document["$id"]] = document
        return documents

    def _namer(self, document: str, fragment: str) -> str | None:
        relative = document.removeprefix(BASE_URI)
        stem = relative.rsplit("/", 1)[-1].removesuffix(".json")
        definition = fragment.rsplit("/", 1)[-1] if fragment else ""
        if relative.startswith("messages/"):
            element = self._types[stem].xsd_element if stem in self._types else _pascal(stem)
            return element + _pascal(definition)
        if relative == "envelope.json" and not definition:
            return self.envelope_element
        return _pascal(definition or stem)


@functools.lru_cache(maxsize=1)
def default_registry() -> SchemaRegistry:
    """The process-wide registry over the located schemas directory."""
    return SchemaRegistry()
