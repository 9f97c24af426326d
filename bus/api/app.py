"""The bus's HTTP API: health, readiness, metrics, journal, dead letters, topology.

``esb run`` serves it on the bus's own event loop. It binds to localhost by
default; every route is behind :func:`bus.api.auth.secure` (docs/security.md).
"""

from __future__ import annotations

from fastapi import FastAPI

from bus.adapters import AdapterHost
from bus.api import adapters as adapter_routes
from bus.api import audit, auth_routes, dead_letters, journal, operations
from bus.api.auth import secure
from bus.api.hot_routes import serve_first
from bus.app import Bus

__all__ = ["create_app"]


def create_app(bus: Bus, adapters: AdapterHost | None = None) -> FastAPI:
    app = FastAPI(
        title="Telecom ESB",
        version="0.1.0",
        description="Operations API of the enterprise service bus.",
    )
    app.state.bus = bus
    app.state.adapters = adapters or AdapterHost(bus, [])
    app.include_router(operations.router)
    app.include_router(journal.router, prefix="/v1")
    app.include_router(dead_letters.router, prefix="/v1")
    app.include_router(adapter_routes.router, prefix="/v1")
    app.include_router(auth_routes.router, prefix="/v1")
    app.include_router(audit.router, prefix="/v1")
    secure(app, bus.settings.api, audit.AuditLog(bus.engine))  # every route, also later ones
    for loaded in app.state.adapters.adapters:
        routes = loaded.instance.api_routes() if loaded.instance is not None else None
        if routes is not None:
            prefix = type(loaded.instance).api_prefix  # "": the routes carry full paths
            if prefix is None:
                prefix = f"/v1/adapters/{loaded.name}"
            app.include_router(routes, prefix=prefix)
            serve_first(app, routes, prefix)
    return app
