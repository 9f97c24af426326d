"""The registry knows every table the code defines: migrated, or left out with a reason."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa

from migrations import registry

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bus", "sync", "adapters", "window", "console", "demo")
"""Where tables may be defined (``migrations`` only lists them)."""


@pytest.fixture(scope="module")
def modules() -> list[ModuleType]:
    """Every module of the packages, imported."""
    found = []
    for top in PACKAGES:
        package = importlib.import_module(top)
        found.append(package)
        found += [importlib.import_module(info.name)
                  for info in pkgutil.walk_packages(package.__path__, f"{top}.")]
    return found


def _metadata_in(module: ModuleType) -> list[sa.MetaData]:
    """The metadata of the tables and metadata objects among a module's names."""
    held = []
    for value in vars(module).values():
        if isinstance(value, sa.MetaData):
            held.append(value)
        elif isinstance(value, sa.Table):
            held.append(value.metadata)
    return held


def test_every_table_a_module_holds_is_migrated_or_left_out_with_a_reason(
        modules: list[ModuleType]) -> None:
    migrated = {id(metadata) for metadata in registry.MIGRATED}
    left_out = {id(metadata) for name in registry.NOT_MIGRATED
                for metadata in _metadata_in(importlib.import_module(name))}
    unknown = sorted({f"{module.__name__}: {sorted(metadata.tables)}"
                      for module in modules for metadata in _metadata_in(module)
                      if id(metadata) not in migrated | left_out})
    assert unknown == [], "add them to migrations/registry.py"


def test_every_module_that_makes_a_metadata_is_known_to_the_registry(
        modules: list[ModuleType]) -> None:
    """Also the tables made at run time, named by settings (not in any module's names)."""
    migrated = {id(metadata) for metadata in registry.MIGRATED}
    unknown = [module.__name__ for module in modules
               if module.__file__ and "MetaData(" in Path(module.__file__).read_text()
               and module.__name__ not in registry.NOT_MIGRATED
               and not any(id(metadata) in migrated for metadata in _metadata_in(module))]
    assert unknown == [], "add their metadata to MIGRATED or the module to NOT_MIGRATED"


def test_every_module_left_out_still_defines_tables() -> None:
    stale = [name for name in registry.NOT_MIGRATED
             if "MetaData(" not in Path(importlib.import_module(name).__file__ or "").read_text()]
    assert stale == []


def test_importing_the_registry_alone_registers_every_table(
        modules: list[ModuleType]) -> None:
    """The bus's tables join ``bus.db.METADATA`` as their modules are imported: the
    registry must import them all, or ``esb db check`` would miss some."""
    everything_imported = sorted(registry.tables())
    program = ("import json; from migrations import registry; "
               "print(json.dumps(sorted(registry.tables())))")
    alone = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True,
                           text=True, check=True)
    assert json.loads(alone.stdout) == everything_imported
    assert len(everything_imported) >= 37  # the baseline's tables at least


def test_no_two_metadata_declare_the_same_table() -> None:
    names = Counter(name for metadata in registry.MIGRATED for name in metadata.tables)
    assert [name for name, count in names.items() if count > 1] == []
