"""The migration scripts and how Alembic is configured for them, without an ``alembic.ini``.

Revisions are numbered (``0001``, ``0002`` …) and live in ``versions/`` beside this
module; ``0001`` is the baseline, the schema as it was when migrations began.
:data:`PROJECT` is what the CLI and the start-up gate use; a :class:`Scripts` with
more folders adds revisions (the tests add one to have a database that is behind).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Final, TextIO

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from migrations import registry

__all__ = ["BASELINE", "PROJECT", "SCRIPT_LOCATION", "Scripts", "configure_options"]

SCRIPT_LOCATION: Final = Path(__file__).resolve().parent
BASELINE: Final = "0001"
"""The first revision: what releases before migrations created with ``create_all``."""


@dataclass(frozen=True)
class Scripts:
    """The project's revisions, and those in ``extra_locations``."""

    extra_locations: tuple[Path, ...] = ()

    def config(self, connection: sa.Connection | None = None, *,
               stdout: TextIO | None = None, sql_for: str | None = None) -> Config:
        """Alembic's configuration; ``env.py`` runs on ``connection``, or writes the SQL
        for the database at URL ``sql_for`` to ``stdout`` (offline mode: nothing
        connects)."""
        config = Config(stdout=stdout or sys.stdout,
                        output_buffer=stdout if sql_for is not None else None)
        config.set_main_option("script_location", str(SCRIPT_LOCATION))
        config.set_main_option("path_separator", "os")
        locations = (SCRIPT_LOCATION / "versions", *self.extra_locations)
        config.set_main_option("version_locations", os.pathsep.join(map(str, locations)))
        # "%%" is ConfigParser's escape for "%": a new revision is 0002_add_something.py
        config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
        if connection is not None:
            config.attributes["connection"] = connection
        if sql_for is not None:
            config.attributes["sql_for"] = sql_for
        return config

    @cached_property
    def directory(self) -> ScriptDirectory:
        """The scripts, read once (they do not change while the process runs)."""
        return ScriptDirectory.from_config(self.config())

    @cached_property
    def heads(self) -> frozenset[str]:
        """The revisions the code expects the database at (one, unless branched)."""
        return frozenset(self.directory.get_heads())

    @cached_property
    def known(self) -> frozenset[str]:
        """Every revision, heads and ancestors."""
        return frozenset(script.revision for script in self.directory.walk_revisions())

    def baseline_metadata(self) -> sa.MetaData:
        """The tables of revision :data:`BASELINE` as it declares them (not as the
        models are now): what a database made before migrations is checked against."""
        metadata = self.directory.get_revision(BASELINE).module.baseline_metadata()
        if not isinstance(metadata, sa.MetaData):
            raise TypeError(f"revision {BASELINE}: baseline_metadata() returned {metadata!r}")
        return metadata


PROJECT: Final = Scripts()


def configure_options(dialect: sa.Dialect) -> dict[str, Any]:
    """What migrations and comparisons are configured with, so that both see the same
    tables the same way: the registry's metadata, only our tables, types and server
    defaults compared, and SQLite's ALTERs done in batch mode (copy and move)."""
    return {
        "target_metadata": list(registry.MIGRATED),
        "include_name": _ours,
        "render_as_batch": dialect.name == "sqlite",
        "compare_type": True,
        "compare_server_default": True,
    }


def _ours(name: str | None, kind: str, parent_names: Any) -> bool:
    """Reflected tables that are not ours (the embedded broker's, another application's
    in a shared database) are neither compared nor dropped by autogenerate."""
    return kind != "table" or registry.is_migrated_table(name)
