"""The Zadarma webhook: ``GET`` answers the ``zd_echo`` check, ``POST`` takes notifications.

Zadarma posts ``application/x-www-form-urlencoded`` notifications with a ``Signature``
header (:mod:`adapters.pbx.cloud.signature`). Answers:

* 200 - taken (or a duplicate, or an event we do not map, e.g. ``NOTIFY_RECORD``);
  the body is empty so that Zadarma reads no routing instruction into it;
  ``X-ESB-Published`` tells how many canonical events it caused;
* 401 - the signature is missing or wrong, or no API secret is configured;
* 413 - over 16 KiB; 415 - not form-encoded; 422 - a call notification without its fields;
* 503 - the database did not take it: Zadarma's retry will.
"""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy.exc import SQLAlchemyError

from adapters.pbx.cloud.ingress import CloudIngress
from adapters.pbx.cloud.mapping import EVENTS, InvalidNotification
from adapters.pbx.cloud.signature import SIGNATURE_HEADER, verify
from bus.errors import PermanentError

__all__ = ["zadarma_routes"]

log = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"
MAX_BODY = 16 * 1024
"""A call notification is a few hundred bytes; anything this big is not one."""


def zadarma_routes(ingress: CloudIngress, secret: str, *, max_echo_chars: int = 256
                   ) -> APIRouter:
    routes = APIRouter(tags=["zadarma"])

    @routes.get("/webhook", response_class=PlainTextResponse)
    async def echo(zd_echo: Annotated[str, Query(min_length=1)]) -> str:
        """Zadarma checks the notification URL by asking it to echo ``zd_echo``."""
        if len(zd_echo) > max_echo_chars:
            raise HTTPException(422, "zd_echo is too long")
        return zd_echo

    @routes.post("/webhook")
    async def notification(request: Request) -> Response:
        """A call notification: NOTIFY_START, _INTERNAL, _ANSWER, _END, _OUT_START, _OUT_END."""
        if not request.headers.get("content-type", "").startswith(FORM):
            raise HTTPException(415, f"Zadarma notifications are {FORM}")
        body = await request.body()
        if len(body) > MAX_BODY:
            raise HTTPException(413, "a notification is not that large")
        form = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
        event = form.get("event", "")
        if event not in EVENTS:
            log.info("Zadarma notification %r is not a call event we map; ignored", event[:40])
            return Response(status_code=200, headers={"X-ESB-Published": "0"})
        if not verify(secret, form, request.headers.get(SIGNATURE_HEADER)):
            log.warning("Zadarma %s refused: bad or missing signature", event)
            raise HTTPException(401, "the signature does not match")
        try:
            published = await ingress.take(form)
        except InvalidNotification as error:
            raise HTTPException(422, str(error)) from None
        except PermanentError as error:
            log.error("Zadarma %s mapped to an invalid event: %s", event, error.reason)
            raise HTTPException(422, error.reason) from None
        except SQLAlchemyError as error:
            log.warning("Zadarma %s not stored, the sender will retry: %s", event, error)
            raise HTTPException(503, "the notification could not be stored") from None
        return Response(status_code=200, headers={"X-ESB-Published": str(len(published))})

    return routes
