"""The subset of CMIS QL (CMIS 1.1, section 2.1.14) the docflow simulator evaluates.

::

    SELECT * | prop[, prop...] FROM type
      [WHERE cond [AND cond ...]]
      [ORDER BY prop [ASC|DESC][, ...]]

    cond     := prop (= | <> | < | <= | > | >=) literal | prop IS [NOT] NULL
              | prop IN (literal[, literal...])
    literal  := 'text' (\\' and \\\\ escaped) | TIMESTAMP 'ISO 8601' | number | TRUE | FALSE

``FROM cmis:document`` matches every document, ``FROM esb:document`` the
documents of that type. Anything else is an ``invalidArgument`` (HTTP 400),
as a repository answers a query it cannot parse.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["InvalidQuery", "Query", "parse"]

Properties = dict[str, Any]

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>'(?:[^'\\]|\\.)*')
    | (?P<number>-?[0-9]+(?:\.[0-9]+)?)
    | (?P<op><>|<=|>=|=|<|>|,|\*|\(|\))
    | (?P<word>[A-Za-z_][A-Za-z0-9_:.]*)
    )""", re.VERBOSE)

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b, "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


class InvalidQuery(ValueError):
    """The statement is outside the subset or malformed."""


@dataclass(frozen=True)
class _Condition:
    prop: str
    op: str
    value: Any

    def holds(self, properties: Properties) -> bool:
        actual = properties.get(self.prop)
        if self.op == "IS NULL":
            return actual is None
        if self.op == "IS NOT NULL":
            return actual is not None
        if actual is None:
            return False
        if self.op == "IN":
            return actual in self.value
        try:
            return _COMPARE[self.op](actual, self.value)
        except TypeError:
            return False


@dataclass(frozen=True)
class Query:
    from_type: str
    conditions: tuple[_Condition, ...]
    order: tuple[tuple[str, bool], ...]
    """(property, descending) pairs."""

    def run(self, documents: list[Properties]) -> list[Properties]:
        matched = [d for d in documents
                   if (self.from_type == "cmis:document"
                       or d.get("cmis:objectTypeId") == self.from_type)
                   and all(c.holds(d) for c in self.conditions)]
        for prop, descending in reversed(self.order):
            matched.sort(key=_sort_key(prop), reverse=descending)
        return matched


def _sort_key(prop: str) -> Callable[[Properties], tuple[bool, Any]]:
    def key(document: Properties) -> tuple[bool, Any]:
        value = document.get(prop)
        return value is not None, value if value is not None else 0

    return key


def parse(statement: str) -> Query:
    tokens = _tokens(statement)
    position = 0

    def take(*expected: str) -> tuple[str, str]:
        nonlocal position
        if position >= len(tokens):
            raise InvalidQuery(f"unexpected end of query, expected {' or '.join(expected)}")
        kind, text = tokens[position]
        if expected and text.upper() not in expected:
            raise InvalidQuery(f"expected {' or '.join(expected)}, found {text!r}")
        position += 1
        return kind, text

    def peek(*words: str) -> bool:
        return position < len(tokens) and tokens[position][1].upper() in words

    take("SELECT")
    while not peek("FROM"):
        take()
    take("FROM")
    _kind, from_type = take()
    conditions: list[_Condition] = []
    if peek("WHERE"):
        take("WHERE")
        conditions.append(_condition(take, peek))
        while peek("AND"):
            take("AND")
            conditions.append(_condition(take, peek))
    order: list[tuple[str, bool]] = []
    if peek("ORDER"):
        take("ORDER")
        take("BY")
        while True:
            _kind, prop = take()
            descending = False
            if peek("ASC", "DESC"):
                descending = take("ASC", "DESC")[1].upper() == "DESC"
            order.append((prop, descending))
            if not peek(","):
                break
            take(",")
    if position != len(tokens):
        raise InvalidQuery(f"unexpected {tokens[position][1]!r}")
    return Query(from_type, tuple(conditions), tuple(order))


def _condition(take: Callable[..., tuple[str, str]], peek: Callable[..., bool]) -> _Condition:
    kind, prop = take()
    if kind != "word":
        raise InvalidQuery(f"expected a property, found {prop!r}")
    if peek("IS"):
        take("IS")
        negated = peek("NOT")
        if negated:
            take("NOT")
        take("NULL")
        return _Condition(prop, "IS NOT NULL" if negated else "IS NULL", None)
    if peek("IN"):
        take("IN")
        take("(")
        values = [_literal(take)]
        while peek(","):
            take(",")
            values.append(_literal(take))
        take(")")
        return _Condition(prop, "IN", tuple(values))
    _kind, op = take(*_COMPARE)
    return _Condition(prop, op, _literal(take))


def _literal(take: Callable[..., tuple[str, str]]) -> Any:
    kind, text = take()
    if kind == "string":
        return _unquote(text)
    if kind == "number":
        return float(text) if "." in text else int(text)
    word = text.upper()
    if word in ("TRUE", "FALSE"):
        return word == "TRUE"
    if word == "TIMESTAMP":
        kind, stamp = take()
        if kind != "string":
            raise InvalidQuery("TIMESTAMP needs a quoted ISO 8601 value")
        try:
            moment = datetime.fromisoformat(_unquote(stamp).replace("Z", "+00:00"))
        except ValueError as error:
            raise InvalidQuery(f"bad TIMESTAMP {stamp}") from error
        return round(moment.timestamp() * 1000)
    raise InvalidQuery(f"expected a literal, found {text!r}")


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _tokens(statement: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = statement.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise InvalidQuery(f"cannot read the query at {text[position:position + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens
