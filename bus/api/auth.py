"""Authentication, the role policy and the audit trail of the bus API, applied centrally.

:func:`secure` puts :class:`AuthMiddleware` in front of every route of the
app, so a router somebody adds later is covered without touching it: the
policy (:mod:`bus.api.auth_policy`) decides by method and path, and a path it
does not know is for ``admin`` only.

A caller proves who they are with an ``X-API-Key`` header (systems) or an
``Authorization: Bearer <session token>`` header from ``POST /v1/auth/login``
(people); the screen-pop event stream, which a browser's ``EventSource``
opens without headers, also takes ``?access_token=``. The principal is put on
``request.state.principal`` for the handlers. With no users and no keys
configured the API runs open, on a loopback address only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bus.api.audit import AuditEntry, AuditLog, noted
from bus.api.auth_credentials import (
    ANONYMOUS,
    OPEN,
    Authenticator,
    InvalidCredentials,
    Principal,
)
from bus.api.auth_policy import ADMIN, INTEGRATOR, SIGNATURE_MARKER, Policy, Rule
from bus.errors import ConfigurationError
from bus.settings import ApiSettings

__all__ = ["AuthMiddleware", "current_principal", "secure", "sees_pii"]

log = logging.getLogger(__name__)

_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def secure(app: FastAPI, settings: ApiSettings, audit: AuditLog) -> None:
    """Guard every route of ``app`` with the policy; refuse to run open off loopback."""
    authenticator = Authenticator(settings.auth)
    if not authenticator.configured:
        if not _loopback(settings.host):
            raise ConfigurationError(
                f"the API would listen on {settings.host} with no credentials configured: set "
                "ESB_API__AUTH__USERS__<name> or ESB_API__AUTH__API_KEYS__<name> "
                "(see docs/security.md), or bind to 127.0.0.1")
        log.warning("authentication disabled: no credentials configured; the API is open to "
                    "anyone on this machine (%s)", settings.host)
    _document_security(app)
    app.state.authenticator = authenticator
    app.state.audit = audit
    app.add_middleware(
        AuthMiddleware, owner=app, authenticator=authenticator, audit=audit,
        policy=Policy(public_metrics=settings.auth.public_metrics,
                      public_docs=settings.auth.public_docs))


def _document_security(app: FastAPI) -> None:
    """Declare the two ways to authenticate in the OpenAPI document (the docs' Authorize)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
            schemes["apiKey"] = {"type": "apiKey", "in": "header", "name": "X-API-Key",
                                 "description": "systems: a key from esb auth new-key"}
            schemes["bearer"] = {"type": "http", "scheme": "bearer",
                                 "description": "people: the token from POST /v1/auth/login"}
            schema["security"] = [{"apiKey": []}, {"bearer": []}]
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]


def current_principal(request: Request) -> Principal:
    """Who is calling (set by :class:`AuthMiddleware`; anonymous without it)."""
    principal = getattr(request.state, "principal", None)
    return principal if isinstance(principal, Principal) else ANONYMOUS


def sees_pii(principal: Principal) -> bool:
    """Whether unmasked passports and INNs may be shown to ``principal``."""
    return principal.role in (ADMIN, INTEGRATOR)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class AuthMiddleware:
    """Authenticates, authorizes by :class:`Policy`, and audits changes (pure ASGI)."""

    def __init__(self, app: ASGIApp, *, owner: FastAPI, authenticator: Authenticator,
                 audit: AuditLog, policy: Policy) -> None:
        self.app = app
        self.owner = owner
        self.authenticator = authenticator
        self.audit = audit
        self._base_policy = policy
        self._policy: Policy | None = None

    @property
    def policy(self) -> Policy:
        if self._policy is None:
            self._policy = self._base_policy.with_signed(_signed_routes(self.owner))
        return self._policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")
        rule = self.policy.rule_for(method, scope["path"])
        try:
            principal = self._principal(scope, rule)
        except InvalidCredentials as refused:
            await self._refuse(scope, receive, send, 401, str(refused))
            return
        if not (rule.public or principal.role == ADMIN or principal.role in rule.roles):
            if principal is ANONYMOUS:
                await self._refuse(scope, receive, send, 401, "authentication required")
                return
            await self._refuse(scope, receive, send, 403,
                               f"role {principal.role!r} may not {method} {scope['path']}")
            if method not in _READS:
                await self._record(scope, principal, 403)
            return
        state = scope.setdefault("state", {})
        state["principal"] = principal
        if rule.public or method in _READS or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            await self._record(scope, principal, status)

    def _principal(self, scope: Scope, rule: Rule) -> Principal:
        if not self.authenticator.configured:
            return OPEN
        if rule.public:
            return ANONYMOUS
        headers = {name: value for name, value in scope["headers"]
                   if name in (b"x-api-key", b"authorization")}
        if b"x-api-key" in headers:
            return self.authenticator.by_key(headers[b"x-api-key"].decode("latin-1"))
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return self.authenticator.by_token(token.strip())
        if rule.query_token:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            if query.get("access_token"):
                return self.authenticator.by_token(query["access_token"][0])
        return ANONYMOUS

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int,
                      reason: str) -> None:
        client = _client(scope)
        log.info("API %s %s from %s refused (%d): %s", scope.get("method", "WS"), scope["path"],
                 client, status, reason)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = {"WWW-Authenticate": 'Bearer realm="esb"'} if status == 401 else None
        await JSONResponse({"detail": reason}, status, headers=headers)(scope, receive, send)

    async def _record(self, scope: Scope, principal: Principal, status: int) -> None:
        action, target, detail = noted(scope.get("state", {})) or _action(scope)
        entry = AuditEntry(actor=principal.name, role=principal.role, kind=principal.kind,
                           action=action, target=target, status=status, client=_client(scope),
                           detail=detail)
        try:
            await asyncio.to_thread(self.audit.record, entry)
        except Exception:  # the audit must not turn a done change into an error response
            log.exception("could not write the audit row for %s by %s", action, principal.name)


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


def _action(scope: Scope) -> tuple[str, str, str]:
    """``("POST /v1/dlq/{record_id}/replay", "record_id=7", "")`` from a handled scope."""
    path: str = scope["path"]
    params: dict[str, Any] = scope.get("path_params") or {}
    segments = path.split("/")
    for name, value in params.items():
        text = str(value)
        if text in segments:
            segments[segments.index(text)] = "{" + name + "}"
    target = ",".join(f"{name}={value}" for name, value in params.items())
    return f"{scope.get('method', '')} {'/'.join(segments)}", target, ""


def _signed_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route marked ``openapi_extra={"x-esb-auth": "signature"}``."""
    key, value = SIGNATURE_MARKER
    try:
        paths: dict[str, dict[str, Any]] = app.openapi().get("paths", {})
    except Exception:
        log.exception("the OpenAPI schema could not be built; no route is marked as signed")
        return []
    return [(method.upper(), path) for path, operations in paths.items()
            for method, operation in operations.items()
            if isinstance(operation, dict) and operation.get(key) == value]
