"""Values shaped by the WSDL's own types (no I/O): requests and the simulator's replies.

LANBilling's types are strict ``xsd:sequence``s with many required elements;
:func:`fill` walks a zeep type and gives every required element the data
lacks its type's zero value (``0``, ``0.0``, ``false``, ``""``, an empty
nested record), so zeep serialises it and a strict zeep peer parses it. What
the data has is kept; optional elements it lacks are left out. The client
uses it for ``insupdAccount`` (a holder read back has its empty strings as
None), the simulator for every reply (:func:`reply`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lxml import etree
from zeep.xsd.types.complex import ComplexType

__all__ = ["fill", "read", "render", "reply"]

_NUMBERS = {"long", "int", "short", "byte", "integer", "unsignedLong", "unsignedInt",
            "unsignedShort", "unsignedByte", "nonNegativeInteger"}
_DECIMALS = {"double", "float", "decimal"}
_plans: dict[int, list[tuple[str, Any, bool, bool]]] = {}
_indexes: dict[int, dict[str, tuple[Any, bool]]] = {}


def reply(operation: Any, result: Any) -> Any:
    """The reply envelope (an lxml element) of a zeep-bound ``operation`` returning ``result``.

    An empty list where the WSDL says ``minOccurs="1"`` (``getAccounts`` finding
    nobody) is sent as no elements, as LANBilling does: zeep will not serialise
    it, so one zero item is rendered and removed again.
    """
    body_type = operation.output.body.type
    values = render(body_type, result)
    empty = [name for name, value in values.items() if value == []]
    for name, element in body_type.elements:
        if name in empty:
            values[name] = [_zero(element.type)]
    envelope = operation.output.serialize(**values).content
    for name in empty:
        for node in list(envelope.iter(name)):
            node.getparent().remove(node)
    return envelope


def render(body_type: Any, result: Any) -> dict[str, Any]:
    """Keyword arguments for ``operation.output.serialize``: ``{"ret": <filled result>}``."""
    [(name, element)] = body_type.elements
    return {name: _value(element.type, result, element.max_occurs != 1)}


def fill(kind: Any, values: Mapping[str, Any] | None) -> dict[str, Any]:
    """``values`` completed to a valid instance of the complex type ``kind``."""
    values = values or {}
    out: dict[str, Any] = {}
    for name, element_type, many, required in _plan(kind):
        value = values.get(name)
        if value is not None:
            out[name] = _value(element_type, value, many)
        elif required and not many:
            out[name] = _zero(element_type)
    return out


def read(node: Any, kind: Any) -> dict[str, Any]:
    """An lxml element of the complex type ``kind`` as a dict (the simulator's requests).

    Much cheaper than zeep's parser for LANBilling's 200-field ``soapFilter``;
    an element the type does not have is refused with ``ValueError``.
    """
    plan = _index(kind)
    out: dict[str, Any] = {}
    for child in node:
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child).localname
        if name not in plan:
            raise ValueError(f"unexpected element {name!r} in {getattr(kind, 'name', kind)}")
        element_type, many = plan[name]
        value = (read(child, element_type) if isinstance(element_type, ComplexType)
                 else _scalar(element_type, child.text))
        if many:
            out.setdefault(name, []).append(value)
        else:
            out[name] = value
    return out


def _scalar(kind: Any, text: str | None) -> Any:
    name = getattr(kind, "name", "") or ""
    raw = (text or "").strip()
    if name in _NUMBERS:
        return int(raw) if raw else None
    if name in _DECIMALS:
        return float(raw) if raw else None
    if name == "boolean":
        return raw in ("true", "1") if raw else None
    return text or ""


def _index(kind: Any) -> dict[str, tuple[Any, bool]]:
    index = _indexes.get(id(kind))
    if index is None:
        index = _indexes[id(kind)] = {name: (element_type, many)
                                      for name, element_type, many, _ in _plan(kind)}
    return index


def _value(kind: Any, value: Any, many: bool) -> Any:
    if many:
        items = value if isinstance(value, list) else [] if value is None else [value]
        return [_value(kind, item, False) for item in items]
    if isinstance(kind, ComplexType):
        return fill(kind, value if isinstance(value, Mapping) else {})
    return value


def _zero(kind: Any) -> Any:
    if isinstance(kind, ComplexType):
        return fill(kind, {})
    name = getattr(kind, "name", "") or ""
    if name in _NUMBERS:
        return 0
    if name in _DECIMALS:
        return 0.0
    if name == "boolean":
        return False
    return ""


def _plan(kind: Any) -> list[tuple[str, Any, bool, bool]]:
    """(name, type, repeated, required) of each element, worked out once per type."""
    plan = _plans.get(id(kind))
    if plan is None:
        plan = _plans[id(kind)] = [
            (name, element.type, element.max_occurs != 1, element.min_occurs >= 1)
            for name, element in kind.elements
        ]
    return plan
