"""The bus fixtures live in tests/conftest.py; re-exported for the modules importing them here."""

from tests.conftest import BusFactory, eventually

__all__ = ["BusFactory", "eventually"]
