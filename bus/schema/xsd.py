"""The XSD files, generated from the JSON Schemas through their dialect shapes.

JSON Schema is the source; ``schemas/xsd/*.xsd`` are generated, committed data
(a test fails when they are stale). Regenerate after editing a JSON Schema::

    python -m bus.schema.xsd            # writes schemas/xsd/
    python -m bus.schema.xsd --check    # exit 1 if the files are stale

The XML mapping the XSD describes is the one :mod:`bus.schema.xml_codec`
implements: a property is an element; an array is a wrapper of ``<item>``
elements; a map is ``<entry key="...">`` elements; null is ``xsi:nil``; other
keys of an open object are ``<json-string key="...">``, ``<json-number>``,
``<json-boolean>``, ``<json-null>``, ``<json-object>``, ``<json-array>``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from lxml import etree

from bus.schema.dialect import XML_SAFE_PATTERN, AnyJson, Array, Object, Scalar, Shape, Slot
from bus.schema.registry import BASE_URI, SchemaRegistry

__all__ = ["FILES", "generate_xsd", "main"]

XS = "http://www.w3.org/2001/XMLSchema"
FILES = ("common.xsd", "entities.xsd", "messages.xsd", "envelope.xsd")
_INCLUDES = {
    "common.xsd": "json.xsd",  # written by hand: the generic JSON value types
    "entities.xsd": "common.xsd",
    "messages.xsd": "entities.xsd",
    "envelope.xsd": "messages.xsd",
}
_BUILTIN = {
    "string": "xs:string",
    "integer": "xs:integer",
    "number": "c:JsonNumber",
    "boolean": "xs:boolean",
}


def _xs(parent: etree._Element, tag: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{XS}}}{tag}", attributes)


def _document(text: str | None) -> etree._Element:
    annotation = etree.Element(f"{{{XS}}}annotation")
    _xs(annotation, "documentation").text = text
    return annotation


class _Generator:
    def __init__(self, registry: SchemaRegistry) -> None:
        self.registry = registry
        self.ns = registry.namespace
        self.roots = {name: self._schema_root(name) for name in FILES}
        self.emitted: dict[str, Shape] = {}
        self.pending: list[Shape] = []
        self.done: set[int] = set()

    def _schema_root(self, name: str) -> etree._Element:
        root = etree.Element(
            f"{{{XS}}}schema",
            {"targetNamespace": self.ns, "elementFormDefault": "qualified", "version": "1"},
            nsmap={"xs": XS, "c": self.ns},
        )
        root.append(
            _document(
                f"Telecom ESB canonical model: {name.removesuffix('.xsd')}. "
                "Generated from schemas/json by bus.schema.xsd; do not edit."
            )
        )
        if name in _INCLUDES:
            _xs(root, "include", schemaLocation=_INCLUDES[name])
        return root

    def run(self) -> dict[str, bytes]:
        registry = self.registry
        for uri, document in registry.documents().items():
            relative = uri.removeprefix(BASE_URI)
            if relative.startswith("entities/"):
                self._want(registry.named_shape(relative).shape)
            for definition in document.get("$defs", {}):
                shape = registry.named_shape(f"{relative}#/$defs/{definition}").shape
                if not isinstance(shape, AnyJson):  # json_value: the fixed Json* types
                    self._want(shape)
        messages = self.roots["messages.xsd"]
        _xs(messages, "element", name="Payload", abstract="true").append(
            _document("The head of the substitution group of every message's payload element.")
        )
        for message_type in registry.known_types():
            info = registry.describe(message_type)
            slot = registry.shape(message_type)
            self._want(slot.shape)
            element = _xs(
                messages,
                "element",
                name=info.xsd_element,
                type=f"c:{slot.shape.name}",
                substitutionGroup="c:Payload",
            )
            element.insert(0, _document(f"{message_type}: {info.description}"))
            self._constraints(element, slot.shape, info.xsd_element)
        envelope, name = registry.envelope_shape(), registry.envelope_element
        self._want(envelope)
        self._constraints(
            _xs(self.roots["envelope.xsd"], "element", name=name, type=f"c:{name}"), envelope, name
        )
        while self.pending:
            self._emit(self.pending.pop())
        return {name: self._serialize(root) for name, root in self.roots.items()}

    def _serialize(self, root: etree._Element) -> bytes:
        head = [
            n for n in root if n.tag != f"{{{XS}}}complexType" and n.tag != f"{{{XS}}}simpleType"
        ]
        types = sorted((n for n in root if n not in head), key=lambda n: str(n.get("name")))
        root[:] = head + types
        etree.indent(root, space="  ")
        body: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        return body + b"\n"

    def _want(self, shape: Shape) -> None:
        if shape.name is None or isinstance(shape, AnyJson):
            raise ValueError(f"expected a named shape, got {shape}")
        known = self.emitted.setdefault(shape.name, shape)
        if known is not shape:
            raise ValueError(f"two different types are named {shape.name}")
        if id(shape) not in self.done:
            self.done.add(id(shape))
            self.pending.append(shape)

    def _file_of(self, name: str) -> etree._Element:
        origin = self.registry.type_origin(name).removeprefix(BASE_URI)
        if origin == "common.json":
            return self.roots["common.xsd"]
        if origin.startswith("entities/"):
            return self.roots["entities.xsd"]
        if origin == "envelope.json":
            return self.roots["envelope.xsd"]
        return self.roots["messages.xsd"]

    def _emit(self, shape: Shape) -> None:
        assert shape.name is not None
        parent = self._file_of(shape.name)
        if isinstance(shape, Scalar):
            definition = self._simple_type(shape, shape.name)
        elif isinstance(shape, Array | Object):
            definition = self._complex_type(shape, shape.name)
        else:
            return
        description = self.registry.type_description(shape.name)
        if description:
            definition.insert(0, _document(description))
        parent.append(definition)

    # -- simple types ------------------------------------------------------------------

    def _type_ref(self, shape: Shape) -> str | None:
        """``c:Name`` for a named shape; None when the use site must define it inline."""
        if shape.name is not None:
            self._want(shape)
            return f"c:{shape.name}"
        if isinstance(shape, Scalar) and not _own_facets(shape):
            return self._type_ref(shape.base) if shape.base is not None else _BUILTIN[shape.kind]
        return None

    def _simple_type(self, shape: Scalar, name: str | None) -> etree._Element:
        simple = etree.Element(f"{{{XS}}}simpleType", {"name": name} if name else {})
        base = self._type_ref(shape.base) if shape.base is not None else _BUILTIN[shape.kind]
        restriction = _xs(simple, "restriction", base=str(base))
        for member in shape.enum or ():
            _xs(restriction, "enumeration", value=member)
        if shape.pattern is not None and shape.pattern != XML_SAFE_PATTERN:
            _xs(restriction, "pattern", value=shape.pattern[1:-1])
        for facet, value in (
            ("minLength", shape.min_length),
            ("maxLength", shape.max_length),
            ("minInclusive", shape.minimum),
            ("maxInclusive", shape.maximum),
        ):
            if value is not None:
                _xs(restriction, facet, value=str(value))
        return simple

    # -- complex types -----------------------------------------------------------------

    def _complex_type(self, shape: Array | Object, name: str | None) -> etree._Element:
        complex_type = etree.Element(f"{{{XS}}}complexType", {"name": name} if name else {})
        sequence = _xs(complex_type, "sequence")
        context = name or "anonymous"
        if isinstance(shape, Array):
            self._element(
                sequence,
                "item",
                shape.items,
                f"{context}.item",
                minOccurs=str(shape.min_items),
                maxOccurs=str(shape.max_items) if shape.max_items else "unbounded",
            )
            return complex_type
        done: set[str] = set()
        for prop in shape.properties:
            if prop.name in done:
                continue
            group = next((g for g in shape.choices if prop.name in g), None)
            if group is not None:
                choice = _xs(sequence, "choice")
                for member in group:
                    self._element(choice, member, shape.by_name[member].slot, f"{context}.{member}")
                done.update(group)
                continue
            occurs = {} if prop.required else {"minOccurs": "0"}
            self._element(sequence, prop.name, prop.slot, f"{context}.{prop.name}", **occurs)
        if shape.is_open:
            _xs(sequence, "group", ref="c:JsonMember", minOccurs="0", maxOccurs="unbounded")
        elif shape.is_map:
            assert shape.additional is not None
            self._entry(sequence, shape, context)
        return complex_type

    def _entry(self, sequence: etree._Element, shape: Object, context: str) -> None:
        assert shape.additional is not None
        value = shape.additional.shape
        base = self._type_ref(value)
        if base is None:
            raise ValueError(f"{context}: map values must be of a named or unrestricted type")
        attrs = {"name": "entry", "minOccurs": "0", "maxOccurs": "unbounded"}
        if shape.additional.nullable:
            attrs["nillable"] = "true"
        entry = _xs(sequence, "element", **attrs)
        extension = _xs(_xs(_xs(entry, "complexType"), "simpleContent"), "extension", base=base)
        attribute = _xs(extension, "attribute", name="key", use="required")
        key = shape.key
        key_ref = self._type_ref(key) if key is not None else "xs:string"
        if key_ref is None:
            assert key is not None
            attribute.append(self._simple_type(key, None))
        else:
            attribute.set("type", key_ref)

    def _element(
        self, parent: etree._Element, name: str, slot: Slot, context: str, **occurs: str
    ) -> None:
        element = _xs(parent, "element", name=name, **occurs)
        if slot.nullable:
            element.set("nillable", "true")
        if context == f"{self.registry.envelope_element}.payload":  # one message element
            _xs(_xs(_xs(element, "complexType"), "sequence"), "element", ref="c:Payload")
            return
        shape = slot.shape
        ref = self._type_ref(shape)
        if ref is not None:
            element.set("type", ref)
        elif isinstance(shape, Scalar):
            element.append(self._simple_type(shape, None))
        elif isinstance(shape, Array | Object):
            element.append(self._complex_type(shape, None))
        self._constraints(element, shape, context)

    def _constraints(self, element: etree._Element, shape: Shape, context: str) -> None:
        """Keys of a map or of an open object's extra members are unique."""
        if isinstance(shape, Object) and (shape.is_map or shape.is_open):
            unique = _xs(element, "unique", name=f"{context}.key")
            _xs(unique, "selector", xpath="c:entry" if shape.is_map else "c:*")
            _xs(unique, "field", xpath="@key")


def _own_facets(shape: Scalar) -> bool:
    return any(
        v is not None
        for v in (
            shape.enum,
            shape.pattern,
            shape.min_length,
            shape.max_length,
            shape.minimum,
            shape.maximum,
        )
    )


def generate_xsd(registry: SchemaRegistry) -> dict[str, bytes]:
    """File name -> contents of every XSD file, for the registry's JSON Schemas."""
    return _Generator(registry).run()


def main(argv: Iterable[str] = ()) -> int:
    args = list(argv)
    registry = SchemaRegistry()
    directory = registry.xsd_path.parent
    files = generate_xsd(registry)
    stale = [
        n
        for n, body in files.items()
        if not (directory / n).is_file() or (directory / n).read_bytes() != body
    ]
    if "--check" in args:
        for name in stale:
            print(f"stale: {directory / name} (run python -m bus.schema.xsd)", file=sys.stderr)
        return 1 if stale else 0
    for name in stale:
        Path(directory / name).write_bytes(files[name])
        print(f"wrote {directory / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
