"""The API is shutting down: responses that never end by themselves (event streams) stop.

``esb run`` sets :func:`shutting_down` when SIGTERM arrives, before the HTTP server
waits for open requests; a streaming handler waits on it next to its own events.
"""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette

__all__ = ["shutting_down"]


def shutting_down(app: Starlette) -> asyncio.Event:
    """Set once ``app`` stops serving (one event per app)."""
    event = getattr(app.state, "shutting_down", None)
    if not isinstance(event, asyncio.Event):
        event = asyncio.Event()
        app.state.shutting_down = event
    return event
