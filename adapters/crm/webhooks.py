"""Webhooks from the CRM: customer created/updated/deleted -> ``crm.customer.changed.v1``.

The CRM signs each call: ``X-CRM-Timestamp`` (Unix seconds) and
``X-CRM-Signature: sha256=<hex>``, the HMAC-SHA256 of ``<timestamp>.<raw body>``
under the shared ``ESB_CRM__WEBHOOK_SECRET``. A request is refused with 401
when the signature is missing or wrong (tampered), when the timestamp is
further than ``webhook_tolerance`` seconds from our clock (stale), or when the
same signature was accepted before within that window (replayed).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request

from adapters.crm import mapping
from bus.errors import PermanentError, TransientError

if TYPE_CHECKING:
    from bus.app import Bus

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "InvalidSignature", "WebhookVerifier",
           "accept_signed", "sign", "webhook_router"]

SIGNATURE_HEADER = "X-CRM-Signature"
TIMESTAMP_HEADER = "X-CRM-Timestamp"
CHANGED = "crm.customer.changed.v1"


class InvalidSignature(Exception):
    """The webhook is not provably from the CRM, or not fresh."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value of ``body`` sent at ``timestamp`` (also what the CRM does)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class WebhookVerifier:
    def __init__(self, secret: str, tolerance: float = 300.0,
                 clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self.tolerance = tolerance
        self.clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def verify(self, timestamp: str | None, signature: str | None, body: bytes) -> str:
        """Check and reserve the signature (:meth:`release` it if the event is not taken)."""
        if not self._secret:
            raise InvalidSignature("no webhook secret is configured")
        if not timestamp or not signature:
            raise InvalidSignature(f"{TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required")
        try:
            sent = float(timestamp)
        except ValueError:
            raise InvalidSignature("the timestamp is not a number") from None
        now = self.clock()
        if abs(now - sent) > self.tolerance:
            raise InvalidSignature("the timestamp is stale")
        if not hmac.compare_digest(sign(self._secret, timestamp, body), signature):
            raise InvalidSignature("the signature does not match")
        with self._lock:
            for old in [s for s, at in self._seen.items() if at < now - self.tolerance]:
                del self._seen[old]
            if signature in self._seen:
                raise InvalidSignature("the request was replayed")
            self._seen[signature] = sent
        return signature

    def release(self, signature: str) -> None:
        with self._lock:
            self._seen.pop(signature, None)


async def accept_signed(request: Request, verifier: WebhookVerifier,
                        accept: Callable[[Any], Awaitable[dict[str, Any]]], *,
                        kind: str) -> dict[str, Any]:
    """What ``accept`` answers for the signed request's JSON body.

    401 for a bad signature; 422 when the body is not a ``kind`` (``accept`` raised a
    lookup, value or permanent error) and 503 when the bus did not take it: both
    release the signature, so the CRM may send the call again.
    """
    body = await request.body()
    try:
        reserved = verifier.verify(request.headers.get(TIMESTAMP_HEADER),
                                   request.headers.get(SIGNATURE_HEADER), body)
    except InvalidSignature as error:
        raise HTTPException(401, str(error)) from None
    try:
        return await accept(json.loads(body))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError,
            PermanentError) as error:  # RecursionError: JSON nested too deep
        verifier.release(reserved)
        raise HTTPException(422, f"not a {kind}: {error}") from None
    except TransientError as error:
        verifier.release(reserved)
        raise HTTPException(503, f"the bus did not take the {kind}: {error}") from None


def webhook_router(bus: Bus, verifier: WebhookVerifier, *, region: str = "RU",
                   source: str = "crm") -> APIRouter:
    """``POST /webhooks/customer``, publishing ``crm.customer.changed.v1`` on ``bus``."""
    router = APIRouter(tags=["crm"])

    @router.post("/webhooks/customer", status_code=202)
    async def customer_webhook(request: Request) -> dict[str, Any]:
        """A customer was created, updated or deleted in the CRM."""
        async def publish(event: Any) -> dict[str, Any]:
            payload = mapping.customer_changed(event, region=region)
            envelope = await bus.emit(CHANGED, payload, key=payload["customer"]["id"],
                                      source=source)
            return {"id": envelope.id, "type": CHANGED}

        return await accept_signed(request, verifier, publish, kind="customer event")

    return router
