"""Signing in: ``POST /v1/auth/login`` for a session token, ``GET /v1/auth/me``."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from bus.api.audit import AuditEntry, AuditLog
from bus.api.auth import current_principal
from bus.api.auth_credentials import Authenticator, InvalidCredentials
from bus.api.auth_throttle import LoginThrottle

__all__ = ["router"]

router = APIRouter(tags=["auth"])


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)


class Session(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: float
    """Epoch seconds."""
    user: str
    role: str


@router.post("/auth/login", responses={401: {"description": "wrong user name or password"},
                                       429: {"description": "too many failed sign-ins"}})
async def login(body: Login, request: Request) -> Session:
    """A session token for a person, to send as ``Authorization: Bearer <token>``."""
    authenticator: Authenticator = request.app.state.authenticator
    audit: AuditLog = request.app.state.audit
    client = request.client.host if request.client else ""
    if not authenticator.users:
        raise HTTPException(404, "no users are configured: authentication is disabled")
    throttle: LoginThrottle | None = getattr(request.app.state, "login_throttle", None)
    if throttle is None:
        throttle = request.app.state.login_throttle = await asyncio.to_thread(
            LoginThrottle, request.app.state.bus.engine)
    if await asyncio.to_thread(throttle.blocked, body.username):
        raise HTTPException(429, "too many failed sign-ins for this user; try again in a minute")
    try:
        principal = await asyncio.to_thread(authenticator.login, body.username, body.password)
    except InvalidCredentials as refused:
        await asyncio.to_thread(throttle.failed, body.username)
        await asyncio.to_thread(audit.record, AuditEntry(
            actor=body.username[:200], role="", kind="anonymous", action="auth.login_failed",
            target=body.username[:200], status=401, client=client))
        raise HTTPException(401, str(refused), headers={"WWW-Authenticate": "Bearer"}) from None
    token, expires = authenticator.issue(principal)
    await asyncio.to_thread(audit.record, AuditEntry(
        actor=principal.name, role=principal.role, kind=principal.kind, action="auth.login",
        target=principal.name, status=200, client=client))
    return Session(access_token=token, expires_at=expires, user=principal.name,
                   role=principal.role)


@router.get("/auth/me")
async def me(request: Request) -> dict[str, Any]:
    """Who this request was authenticated as."""
    return current_principal(request).to_json()
