"""Hot GET routes: served by a plain Starlette endpoint, matched before every other route.

FastAPI's per-request work (walking each included router to match, solving the
endpoint's dependencies, two exit stacks) cost the unified view about 70 µs of
CPU per request, as much as a third of its scatter-gather
(``bench/unified_view.py``). A :class:`HotRouter` declares such a route with
:meth:`HotRouter.hot_get`: the documented FastAPI route as usual, and a
:class:`HotRoute` of the same path and endpoint, kept apart (not in its
``routes``, where an inclusion would copy it as a route that takes HEAD too);
:func:`serve_first` puts the hot ones at the head of the app's routes.

The FastAPI route stays the contract: it is what the OpenAPI document shows,
and it answers what the hot route does not take — another method, a path
parameter that does not fit its pattern (FastAPI's own 422) — and serves
everything alone where nobody calls :func:`serve_first`. The endpoint is the
same function in both, so the answers are the same. Authentication and roles
are unaffected: they are middleware, in front of every route.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route, request_response
from starlette.types import Scope

__all__ = ["HotRoute", "HotRouter", "serve_first"]

Endpoint = Callable[..., Awaitable[Response]]
"""``endpoint(request, **path_params)``: the request first, the path parameters by name."""
E = TypeVar("E", bound=Endpoint)


class HotRoute(Route):
    """``GET path`` served by ``endpoint(request)`` when every path parameter fits its pattern."""

    def __init__(self, path: str, endpoint: Endpoint, *,
                 patterns: Mapping[str, re.Pattern[str]] | None = None) -> None:
        super().__init__(path, endpoint, methods=["GET"], include_in_schema=False)
        self.methods = {"GET"}  # Starlette adds HEAD; the documented route has none
        self.patterns = dict(patterns or {})
        self.app = request_response(self._respond)

    async def _respond(self, request: Request) -> Response:
        response: Response = await self.endpoint(request, **request.path_params)
        return response

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.FULL:  # a PARTIAL (other method) is the FastAPI route's 405
            return Match.NONE, {}
        params = child_scope["path_params"]
        if any(not pattern.fullmatch(str(params[name]))
               for name, pattern in self.patterns.items()):
            return Match.NONE, {}
        return match, child_scope

    def under(self, prefix: str) -> HotRoute:
        """The same route with ``prefix`` before its path (as ``include_router`` puts it)."""
        return HotRoute(prefix + self.path, self.endpoint, patterns=self.patterns)


class HotRouter(APIRouter):
    """An :class:`~fastapi.APIRouter` that can declare hot GET routes too."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.hot_routes: list[HotRoute] = []

    def hot_get(self, path: str, *, patterns: Mapping[str, re.Pattern[str]] | None = None,
                **documented: Any) -> Callable[[E], E]:
        """``@router.get(path, **documented)``, and the same endpoint as a :class:`HotRoute`."""
        def register(endpoint: E) -> E:
            self.get(path, **documented)(endpoint)
            self.hot_routes.append(HotRoute(path, endpoint, patterns=patterns))
            return endpoint

        return register


def serve_first(app: FastAPI, router: APIRouter, prefix: str = "") -> None:
    """Match the hot routes of ``router`` (included at ``prefix``) before any other route."""
    if isinstance(router, HotRouter):
        app.router.routes[:0] = [route.under(prefix) for route in router.hot_routes]
