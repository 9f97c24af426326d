"""The adapter SDK: the contract every external system implements, and its discovery."""

from bus.adapters.contract import Adapter, AdapterManifest, AdapterSettings, Health
from bus.adapters.registry import ENTRY_POINT_GROUP, AdapterHost, LoadedAdapter, discover

__all__ = [
    "ENTRY_POINT_GROUP",
    "Adapter",
    "AdapterHost",
    "AdapterManifest",
    "AdapterSettings",
    "Health",
    "LoadedAdapter",
    "discover",
]
