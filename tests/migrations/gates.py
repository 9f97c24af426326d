"""Schema gates the tests install in ``esb.schema`` (tests/entry_points.py), as a
release with one more revision than the project's would."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import sqlalchemy as sa

from migrations.scripts import Scripts
from migrations.startup import prepare_database

__all__ = ["WITH_NEXT_REVISION", "gate_of_the_next_release"]

WITH_NEXT_REVISION: Final = Scripts(extra_locations=(Path(__file__).parent / "revisions",))
"""The project's revisions and ``test_next`` after its head."""


def gate_of_the_next_release(engine: sa.Engine) -> None:
    prepare_database(engine, scripts=WITH_NEXT_REVISION)
