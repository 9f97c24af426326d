"""Plays Zadarma for the demo and the tests: signed call notifications sent to a webhook URL.

Zadarma is the client of a webhook, so its stand-in is one too: it builds the form
fields and ``Signature`` header Zadarma sends for each step of a call and posts them with
any ``httpx.AsyncClient`` (a real one to a served API, or one on an ASGI transport).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlencode

import httpx

from adapters.pbx.cloud.signature import SIGNATURE_HEADER, sign

__all__ = ["Notification", "ZadarmaCloud"]

Notification = dict[str, str]


class ZadarmaCloud:
    def __init__(self, secret: str, *, did: str = "74951234567") -> None:
        self.secret = secret
        self.did = did
        self._ids = itertools.count(1)

    def call_id(self) -> str:
        return f"in_{next(self._ids):012d}"

    def signed(self, form: Notification, *, secret: str | None = None
               ) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one notification as Zadarma posts it."""
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   SIGNATURE_HEADER: sign(self.secret if secret is None else secret, form)}
        return urlencode(form).encode(), headers

    async def send(self, client: httpx.AsyncClient, url: str, form: Notification
                   ) -> httpx.Response:
        body, headers = self.signed(form)
        return await client.post(url, content=body, headers=headers)

    async def play(self, client: httpx.AsyncClient, url: str, forms: Sequence[Notification]
                   ) -> list[httpx.Response]:
        return [await self.send(client, url, form) for form in forms]

    # -- call scenarios: the notifications, in Zadarma's order ---------------------

    def inbound(self, call_id: str, caller: str, started: datetime, *,
                rings: Sequence[str], answered_by: str | None, talk: int = 0,
                disposition: str | None = None) -> list[Notification]:
        """A customer calls the DID; ``rings`` are rung; one answers or none does."""
        base = {"call_start": started.strftime("%Y-%m-%d %H:%M:%S"), "pbx_call_id": call_id,
                "caller_id": caller, "called_did": self.did}
        forms = [{"event": "NOTIFY_START", **base}]
        forms += [{"event": "NOTIFY_INTERNAL", **base, "internal": ext} for ext in rings]
        if answered_by is not None:
            forms.append({"event": "NOTIFY_ANSWER", "caller_id": caller,
                          "destination": answered_by, "call_start": base["call_start"],
                          "pbx_call_id": call_id, "internal": answered_by})
        forms.append({"event": "NOTIFY_END", **base, "internal": answered_by or "",
                      "duration": str(talk if answered_by else 0),
                      "disposition": disposition or ("answered" if answered_by
                                                     else "no answer"),
                      "status_code": "16", "is_recorded": "0", "call_id_with_rec": ""})
        return forms

    def outbound(self, call_id: str, extension: str, number: str, started: datetime, *,
                 answered: bool, talk: int = 0) -> list[Notification]:
        """An agent dials a customer from ``extension``."""
        base = {"call_start": started.strftime("%Y-%m-%d %H:%M:%S"), "pbx_call_id": call_id,
                "internal": extension, "destination": number}
        return [
            {"event": "NOTIFY_OUT_START", **base},
            {"event": "NOTIFY_OUT_END", **base, "caller_id": extension,
             "duration": str(talk if answered else 0),
             "disposition": "answered" if answered else "busy",
             "status_code": "16" if answered else "17", "is_recorded": "0",
             "call_id_with_rec": ""},
        ]
