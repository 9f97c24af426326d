"""A CRM on loopback speaking our REST dialect, for the demo and the tests.

::

    with CrmSimulator() as sim:          # the built-in seed (simdata.CrmData.seed)
        settings = CrmSettings(url=sim.url, token=sim.token)
        ...
        assert len(sim.data.interactions) == 1      # what the CRM's history shows
        sim.data.received                             # every call log written, repeats too

A real HTTP server (FastAPI under uvicorn in a background thread) with token
auth, speaking two dialects over one store: ours under ``/api/v1`` (``Authorization:
Bearer <token>``) and Bitrix24's under ``/rest/1/<token>/<method>``
(:mod:`adapters.crm.sim_bitrix`; ``sim.bitrix.calls`` are the registered calls).
Seeded with the built-in seed or a datagen directory (``CrmData.from_directory``).
Switches for the reliability tests: :meth:`~CrmSimulator.slow` answers
late, :meth:`~CrmSimulator.fail` answers with an HTTP error (503 by default).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp

from adapters.crm.mapping import e164
from adapters.crm.sim_bitrix import BitrixDialect, bitrix_router
from adapters.crm.simdata import CrmData, Record
from adapters.crm.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from bus.adapters.loopback import LoopbackServer
from bus.adapters.simulation import Fault, FaultSwitches, serve_until_interrupted

__all__ = ["CrmSimulator"]


class CrmSimulator(LoopbackServer):
    server_name = "CRM simulator"
    log_level = "warning"

    def __init__(self, data: CrmData | None = None, *, token: str = "crm-token",
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.data = data or CrmData.seed()
        self.token = token
        self.calls: Counter[str] = Counter()
        """Requests per ``METHOD /path-template``."""
        self.bitrix = BitrixDialect(self.data)
        self.faults = FaultSwitches()
        self._lock = threading.Lock()
        super().__init__(host=host, port=port)

    @property
    def url(self) -> str:
        return self.base_url

    @property
    def bitrix_webhook(self) -> str:
        """``ESB_CRM__TOKEN`` of the bitrix24 profile: ``<user id>/<webhook code>``."""
        return f"1/{self.token}"

    def asgi(self) -> ASGIApp:
        return self.app()

    # -- switches -------------------------------------------------------------

    def slow(self, seconds: float, *, times: int | None = None) -> None:
        """Answer the next ``times`` requests (all when None) after ``seconds``."""
        self.faults.add(Fault("slow", times=times, seconds=seconds))

    def fail(self, status: int = 503, *, times: int | None = None) -> None:
        """Answer the next ``times`` requests (all when None) with HTTP ``status``."""
        self.faults.add(Fault("fail", times=times, status=status))

    def clear(self) -> None:
        """Back to normal service."""
        self.faults.clear()

    # -- the CRM's side of a webhook --------------------------------------------

    def customer_webhook(self, secret: str, customer_id: str, event: str = "customer.updated",
                         *, changed_fields: list[str] | None = None,
                         timestamp: float | None = None) -> tuple[bytes, dict[str, str]]:
        """The body and headers the CRM would POST for a change of ``customer_id``."""
        with self.data.lock:
            customer = self.data.view(self.data.customers[customer_id])
        body = json.dumps({"event": event, "customer": customer,
                           "changed_fields": changed_fields or []},
                          ensure_ascii=False).encode()
        return body, _signed_headers(secret, body, timestamp)

    def click_to_call_webhook(self, secret: str, agent_extension: str, number: str, *,
                              user_id: str = "17", entity: dict[str, str] | None = None,
                              timestamp: float | None = None) -> tuple[bytes, dict[str, str]]:
        """The body and headers the CRM would POST when a user clicks a number."""
        body = json.dumps({"event": "call.requested", "agent_extension": agent_extension,
                           "number": number, "user_id": user_id, "entity": entity},
                          ensure_ascii=False).encode()
        return body, _signed_headers(secret, body, timestamp)

    def bitrix_event(self, application_token: str, event: str, fields: dict[str, Any],
                     *, data_key: str = "FIELDS") -> tuple[bytes, dict[str, str]]:
        """The form Bitrix24 POSTs an event handler (``event``, ``data[FIELDS][ID]``, ``ts``,
        ``auth[application_token]``...); ``data_key=""`` puts ``fields`` right under
        ``data`` (``ONEXTERNALCALLSTART``)."""
        prefix = f"data[{data_key}]" if data_key else "data"
        pairs = [("event", event), ("event_handler_id", "7")]
        pairs += [(f"{prefix}[{k}]", str(v)) for k, v in fields.items()]
        pairs += [("ts", str(int(time.time()))), ("auth[domain]", "crm.simulator.local"),
                  ("auth[member_id]", "a223c6b3710f85df22e9377d6c4f7553"),
                  ("auth[application_token]", application_token)]
        return urlencode(pairs).encode(), {
            "Content-Type": "application/x-www-form-urlencoded"}

    # -- the HTTP API -----------------------------------------------------------

    def app(self) -> FastAPI:
        app = FastAPI(title="CRM simulator")
        data = self.data

        @app.middleware("http")
        async def gate(request: Request,
                       call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            route = f"{request.method} {request.url.path}"
            with self._lock:
                self.calls[route] += 1
            bitrix = request.url.path.startswith("/rest/")  # its code is in the path
            if not bitrix and request.headers.get("Authorization") != f"Bearer {self.token}":
                return JSONResponse({"detail": "bad or missing token"}, status_code=401)
            slow = self.faults.active("slow")
            if slow:
                await asyncio.sleep(slow.seconds)
            broken = self.faults.active("fail")
            if broken:
                return JSONResponse({"detail": "simulated failure"}, status_code=broken.status)
            return await call_next(request)

        @app.get("/api/v1/customers")
        def search(phone: str | None = None, inn: str | None = None) -> dict[str, Any]:
            if phone is None and inn is None:
                raise HTTPException(400, "search by phone or inn")
            number = e164(phone) if phone is not None else None
            if phone is not None and number is None:
                raise HTTPException(400, "phone is not a number")
            return {"items": data.find(phone=number, inn=inn)}

        @app.post("/api/v1/customers")
        def add_customer(body: Record, response: Response,
                         idempotency_key: str | None = Header(None)) -> Record:
            if not body.get("phones") and not body.get("emails"):
                raise HTTPException(422, "a customer needs a phone or an e-mail")
            return _stored(response, data.add_customer(idempotency_key, body))

        @app.get("/api/v1/customers/{customer_id}")
        def card(customer_id: str, interactions: int = 10) -> Record:
            found = data.card(customer_id, interactions=interactions)
            if found is None:
                raise HTTPException(404, f"no customer {customer_id}")
            return found

        @app.put("/api/v1/interactions/{external_id}")
        def put_interaction(external_id: str, body: Record, response: Response) -> Record:
            if body.get("external_id", external_id) != external_id:
                raise HTTPException(422, "external_id differs from the path")
            if not body.get("started_at"):
                raise HTTPException(422, "started_at is required")
            return _stored(response, data.put_interaction(external_id, body))

        @app.patch("/api/v1/interactions/{external_id}")
        def annotate(external_id: str, body: Record) -> Record:
            if body.get("result") not in ("sale", "refusal", "appointment", "other"):
                raise HTTPException(422, "result is sale, refusal, appointment or other")
            stored = data.annotate(external_id, body)
            if stored is None:
                raise HTTPException(404, f"no call log {external_id}")
            return stored

        @app.post("/api/v1/activities")
        def add_activity(body: Record, response: Response,
                         idempotency_key: str | None = Header(None)) -> Record:
            if not body.get("kind") or not body.get("subject"):
                raise HTTPException(422, "kind and subject are required")
            return _stored(response, data.add_activity(idempotency_key, body))

        @app.post("/api/v1/tasks")
        def add_task(body: Record, response: Response,
                     idempotency_key: str | None = Header(None)) -> Record:
            if not body.get("title") or not body.get("assignee_id"):
                raise HTTPException(422, "title and assignee_id are required")
            return _stored(response, data.add_task(idempotency_key, body))

        @app.get("/api/v1/tasks")
        def tasks() -> dict[str, Any]:
            with data.lock:
                return {"items": list(data.tasks)}

        app.include_router(bitrix_router(self.bitrix, self.token))
        return app


def _signed_headers(secret: str, body: bytes, timestamp: float | None) -> dict[str, str]:
    """The headers of a webhook the CRM signs with ``secret`` at ``timestamp`` (now if None)."""
    stamp = str(int(time.time() if timestamp is None else timestamp))
    return {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(secret, stamp, body),
            "Content-Type": "application/json"}


def _stored(response: Response, outcome: tuple[Record, bool]) -> Record:
    """The record a write stored: ``201`` when it made it now, ``200`` when it was there."""
    record, created = outcome
    response.status_code = 201 if created else 200
    return record


def main(argv: list[str] | None = None) -> None:
    """``python -m adapters.crm.simulator [--port N] [--token T] [--data DIR]``: serve until
    killed.

    Prints the base URL on the first line, for scripts that start it.
    """
    import argparse

    parser = argparse.ArgumentParser(description="A CRM on loopback (our REST dialect)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=34020)
    parser.add_argument("--token", default="crm-token")
    parser.add_argument("--data", help="a datagen output directory (managers.csv, "
                        "crm_customers.csv); default: the built-in seed")
    options = parser.parse_args(argv)
    data = CrmData.from_directory(options.data) if options.data else None
    simulator = CrmSimulator(data, token=options.token, host=options.host, port=options.port)
    serve_until_interrupted(simulator)


if __name__ == "__main__":
    main()
