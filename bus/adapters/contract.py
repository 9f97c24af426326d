"""The adapter contract: what every system plugged into the bus provides.

An adapter is a package with the same parts everywhere (see docs/bus-core.md):
``manifest`` (this class's :class:`AdapterManifest`), ``settings``
(an :class:`AdapterSettings` subclass read from ``ESB_<NAME>__*``), ``client``
(the only module that speaks the external protocol), ``mapping`` (pure
functions), ``handlers`` (a :class:`~bus.router.Router`) and ``simulator``.
It registers a subclass of :class:`Adapter` in the ``esb.adapters``
entry-point group; the bus discovers it, builds it with its settings, and
starts, stops and health-checks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic_settings import BaseSettings, SettingsConfigDict

from bus.router import Router

if TYPE_CHECKING:
    from fastapi import APIRouter

    from bus.app import Bus

__all__ = ["Adapter", "AdapterManifest", "AdapterSettings", "Health"]


class AdapterSettings(BaseSettings):
    """Base of every adapter's settings; subclasses set ``env_prefix="ESB_<NAME>__"``."""

    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    enabled: bool = True


@dataclass(frozen=True, slots=True)
class AdapterManifest:
    name: str
    version: str
    description: str
    consumes: tuple[str, ...] = ()
    publishes: tuple[str, ...] = ()
    settings: type[AdapterSettings] = AdapterSettings

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "version": self.version, "description": self.description,
            "consumes": list(self.consumes), "publishes": list(self.publishes),
            "settings": self.settings.model_json_schema(),
        }


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    detail: str = ""
    checks: dict[str, Any] = field(default_factory=dict)


class Adapter:
    """One external system on the bus. Subclasses set ``manifest`` and ``router``."""

    manifest: ClassVar[AdapterManifest]
    router: ClassVar[Router] = Router()
    #: Where the bus API mounts :meth:`api_routes`; ``None`` means
    #: ``/v1/adapters/<name>``. Components that serve a public face of their own
    #: (the unified window at ``/v1/customers``, the synchronizer at ``/v1/sync``)
    #: set it.
    api_prefix: ClassVar[str | None] = None

    def __init__(self, settings: AdapterSettings, bus: Bus) -> None:
        self.settings = settings
        self.bus = bus

    def provide(self) -> dict[type, object]:
        """Objects injected into this adapter's handlers by their annotated type (clients)."""
        return {}

    def api_routes(self) -> APIRouter | None:
        """HTTP endpoints of the adapter (webhooks in), or None.

        The bus API mounts them under ``/v1/adapters/<name>/``, or under
        :attr:`api_prefix` when the class sets one.
        """
        return None

    async def start(self) -> None:
        """Connect and start background work (pollers, sockets). Called after the bus starts."""

    async def stop(self) -> None:
        """Release connections. Called before the bus stops."""

    async def health(self) -> Health:
        return Health(ok=True)

    async def check(self) -> str:
        """A harmless read against the external system with the current settings.

        Returns what it found, or raises with a clear error: the first thing an
        integrator runs on a new site (``esb adapters check NAME``).
        """
        health = await self.health()
        if not health.ok:
            raise RuntimeError(health.detail)
        return health.detail or "ok"
