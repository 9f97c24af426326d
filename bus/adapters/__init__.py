"""The adapter SDK: the contract every external system implements, and its discovery.

Shared pieces live in submodules (see docs/adding-a-system.md, section 8):
``lifecycle`` (typed settings, background work), ``urlsettings``, ``feed`` and
``feedstate`` (a polling change feed through the outbox), ``fieldmap`` (legacy
rows to payloads), ``loopback`` and ``simulation`` (simulators).
"""

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
