"""What a database holds: its schema revision, which of our tables exist, how they differ.

Differences come from Alembic's autogenerate comparison (the same one that writes a
new revision), told as one line each for a person: ``column pbx_calls.queue: missing``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from migrations import registry
from migrations.scripts import configure_options

__all__ = ["DatabaseState", "Standing", "describe", "differences", "models", "read_state",
           "shown_revisions"]


class Standing(StrEnum):
    """Where a database stands against the code's revisions."""

    CURRENT = "current"
    """At the code's head: nothing to do."""
    EMPTY = "empty"
    """None of our tables yet: a new deployment."""
    UNVERSIONED = "unversioned"
    """Our tables but no revision: made by a release before migrations."""
    BEHIND = "behind"
    """At an older revision: ``esb db upgrade``."""
    AHEAD = "ahead"
    """At a revision this code does not know: a newer release has migrated it."""


@dataclass(frozen=True, slots=True)
class DatabaseState:
    revisions: frozenset[str]
    """What ``alembic_version`` holds: empty when the table is missing or empty."""
    tables: frozenset[str]
    """Which of the migrated tables exist (the embedded broker's and others' are ignored)."""

    @property
    def empty(self) -> bool:
        """Nothing of ours yet: a new deployment."""
        return not self.revisions and not self.tables

    @property
    def unversioned(self) -> bool:
        """Our tables without a revision: made by ``create_all`` of a release before
        migrations (or by a component that created its tables on its own)."""
        return not self.revisions and bool(self.tables)

    def standing(self, heads: frozenset[str], known: frozenset[str]) -> Standing:
        """Against ``heads`` (the code's) and ``known`` (every revision it has)."""
        if self.revisions == heads:
            return Standing.CURRENT
        if self.empty:
            return Standing.EMPTY
        if self.unversioned:
            return Standing.UNVERSIONED
        if self.revisions <= known:
            return Standing.BEHIND
        return Standing.AHEAD


def shown_revisions(revisions: frozenset[str]) -> str:
    """Revisions as a person reads them: ``0001``, ``0002, 0003`` (branched), ``none``."""
    return ", ".join(sorted(revisions)) or "none"


def read_state(connection: sa.Connection) -> DatabaseState:
    revisions = MigrationContext.configure(connection).get_current_heads()
    names = sa.inspect(connection).get_table_names()
    return DatabaseState(frozenset(revisions),
                         frozenset(name for name in names if registry.is_migrated_table(name)))


@cache
def models() -> sa.MetaData:
    """Every migrated table on one metadata: what the code expects the database to hold."""
    combined = sa.MetaData()
    for metadata in registry.MIGRATED:
        for table in metadata.sorted_tables:
            table.to_metadata(combined)
    return combined


def differences(connection: sa.Connection, expected: sa.MetaData | None = None) -> list[str]:
    """How the database differs from ``expected`` (by default :func:`models`), one line
    each; empty when it matches. Only the tables ``expected`` names are compared: others
    in the database (the embedded broker's, another application's) are not ours."""
    expected = expected if expected is not None else models()
    names = frozenset(expected.tables)
    options = configure_options(connection.dialect)
    options.pop("target_metadata")
    options["include_name"] = lambda name, kind, _parents: kind != "table" or name in names
    context = MigrationContext.configure(connection, opts=options)
    return [describe(diff) for diff in _flat(compare_metadata(context, expected))]


def _flat(diffs: Iterable[Any]) -> Iterable[tuple[Any, ...]]:
    """Alembic groups the changes of one column in a list; one tuple per change here."""
    for diff in diffs:
        if isinstance(diff, list):
            yield from diff
        else:
            yield diff


def describe(diff: Sequence[Any]) -> str:
    """One autogenerate difference as a line for a person, "what: how it differs"."""
    kind = diff[0]
    if kind in ("add_table", "remove_table"):
        return f"table {diff[1].name}: {_presence(kind)}"
    if kind in ("add_column", "remove_column"):
        return f"column {diff[2]}.{diff[3].name}: {_presence(kind)}"
    if kind in ("add_index", "remove_index"):
        index = diff[1]
        columns = ", ".join(column.name for column in index.columns)
        unique = "unique index" if index.unique else "index"
        return f"{unique} {index.name} on {index.table.name} ({columns}): {_presence(kind)}"
    if kind in ("add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        constraint = diff[1]
        columns = ", ".join(column.name for column in constraint.columns)
        what = "foreign key" if kind.endswith("fk") else "unique constraint"
        name = f" {constraint.name}" if constraint.name else ""
        return f"{what}{name} on {constraint.table.name} ({columns}): {_presence(kind)}"
    if kind.startswith("modify_"):
        _, _schema, table, column, _existing, in_database, expected = diff
        aspect = kind.removeprefix("modify_")
        return (f"column {table}.{column}: {aspect} is {_shown(in_database)} in the database, "
                f"expected {_shown(expected)}")
    return f"{kind}: {diff[1:]!r}"


def _presence(kind: str) -> str:
    return "missing" if kind.startswith("add_") else "in the database but not expected"


def _shown(value: Any) -> str:
    if value is True:
        return "NULL allowed"  # the only booleans compared are nullability
    if value is False:
        return "NOT NULL"
    if value is None:
        return "none"
    if isinstance(value, sa.types.TypeEngine):
        return repr(value)
    return str(value)
