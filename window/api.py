"""The window's HTTP face, mounted at ``/v1`` (see ``docs/unified-window.md``).

* ``GET /v1/customers/{golden_id}/view`` and ``GET /v1/customers/lookup?phone=|account=|inn=``
  — the aggregated view; ``publish=true`` also publishes it as ``window.customer.view.v1``;
  ``fresh=true`` skips the cache.
* ``GET /v1/screen-pop/stream?agent=2001`` — Server-Sent Events: ``pop`` (``stage`` local,
  then enriched), ``answered``, ``ended``; ``GET /v1/screen-pop/sessions``.
* ``POST /v1/calls/originate`` — click-to-call (``pbx.originate.requested.v1``).
* ``POST /v1/calls/{call_id}/result`` — the call's result and notes
  (``crm.interaction.annotated.v1``).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

import orjson
from fastapi import HTTPException, Path, Query
from fastapi import Request as HttpRequest
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from bus.api.hot_routes import HotRouter
from bus.api.shutdown import shutting_down
from bus.delivery.rpc import RemoteError
from bus.errors import EsbError, PermanentError, RequestTimeout
from bus.phones import to_e164
from window.identity import Identity
from window.screen_pop import AgentSession
from window.state import WindowState
from window.view import VIEW_TYPE

__all__ = ["ORIGINATE_TYPE", "RESULT_TYPE", "window_router"]

ORIGINATE_TYPE = "pbx.originate.requested.v1"
RESULT_TYPE = "crm.interaction.annotated.v1"

Publish = Callable[[str, Mapping[str, Any], str | None], Awaitable[str]]
"""Publishes a message (type, payload, key) on the bus; returns its id."""
Request = Callable[[str, Mapping[str, Any], float], Awaitable[Mapping[str, Any]]]

_IDENTIFIER = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._:@/+=\-]{0,127}$")
_INN = re.compile(r"^([0-9]{10}|[0-9]{12})$")
_EXTENSION = r"^[0-9]{2,10}$"
_DIALED = re.compile(r"^\+?[0-9*#]{1,32}$")
"""What the PBX dials (common.json ``dialed_number``)."""
_VIEW_RESPONSE: dict[int | str, dict[str, Any]] = {422: {"description": "Validation Error"}, 200: {
    "description": "The view: the payload of window.customer.view.v1 "
                   "(schemas/json/messages/window.customer.view.v1.json), plus published_id "
                   "with publish=true.",
    "content": {"application/json": {"schema": {"type": "object"}}}}}


_LOOKUP_LIMITS = {"phone": 40, "account": 128, "inn": 12}
_LOOKUP_PARAMETERS: list[dict[str, Any]] = [
    {"name": key, "in": "query", "required": False,
     "schema": {"anyOf": [{"type": "string", "maxLength": limit}, {"type": "null"}],
                "title": key.capitalize()}}
    for key, limit in _LOOKUP_LIMITS.items()]
_VIEW_PARAMETERS: list[dict[str, Any]] = [
    {"name": "publish", "in": "query", "required": False,
     "description": "also publish the view as window.customer.view.v1",
     "schema": {"type": "boolean", "default": False, "title": "Publish"}},
    {"name": "fresh", "in": "query", "required": False,
     "description": "skip the cache: ask every backend now",
     "schema": {"type": "boolean", "default": False, "title": "Fresh"}},
]
_BOOLEANS = {**dict.fromkeys(("1", "true", "t", "yes", "y", "on"), True),
             **dict.fromkeys(("0", "false", "f", "no", "n", "off"), False)}
"""What pydantic (hence FastAPI) reads as a boolean, case aside."""


class OriginateRequest(BaseModel):
    agent: str = Field(pattern=_EXTENSION, description="the operator's extension, rung first")
    number: str = Field(min_length=1, max_length=40, description="the number to call")
    user_id: str | None = Field(None, pattern=_IDENTIFIER.pattern,
                                description="who clicked, if known")
    customer_id: str | None = Field(None, pattern=_IDENTIFIER.pattern,
                                    description="the CRM customer")


class CallResult(BaseModel):
    result: Literal["sale", "refusal", "appointment", "other"]
    notes: str | None = Field(None, max_length=20000)
    agent: str | None = Field(None, pattern=_EXTENSION)
    agent_id: str | None = Field(None, pattern=_IDENTIFIER.pattern,
                                 description="the operator's manager id in the CRM")


def window_router(state: WindowState, publish: Publish, request: Request) -> HotRouter:
    router = HotRouter(tags=["window"])

    async def answer(query: dict[str, str], identity: Identity, publish_view: bool,
                     fresh: bool) -> Response:
        view = await state.views.view(query, identity, use_cache=not fresh)
        if publish_view:
            view["published_id"] = await _publish(publish, VIEW_TYPE, dict(view),
                                                  identity.golden_id)
        # the view is plain JSON already: orjson, not FastAPI's encoder (a third of the time)
        return Response(orjson.dumps(view), media_type="application/json")

    # The view's two routes read their query string themselves: FastAPI's per-parameter
    # validation cost more CPU than the whole scatter-gather. The parameters are
    # declared in the OpenAPI document by hand (_VIEW_PARAMETERS), checked the same way.
    # Hot routes (bus.api.hot_routes): a plain Starlette route serves them, matched
    # first; the documented FastAPI route answers what it does not take.
    @router.hot_get("/customers/lookup", response_class=Response, responses=_VIEW_RESPONSE,
                    openapi_extra={"parameters": [*_LOOKUP_PARAMETERS, *_VIEW_PARAMETERS]})
    async def lookup(http: HttpRequest) -> Response:
        """The aggregated view of the customer with this phone, account number or INN."""
        query = _query(http)
        given = {key: query[key] for key in ("phone", "account", "inn") if query.get(key)}
        for key, limit in _LOOKUP_LIMITS.items():
            if len(query.get(key, "")) > limit:
                raise _invalid(key, f"at most {limit} characters")
        if len(given) != 1:
            raise _invalid("phone", "give exactly one of phone, account, inn")
        phone, account, inn = given.get("phone"), given.get("account"), given.get("inn")
        if phone:
            e164 = to_e164(phone, state.settings.region)
            if e164 is None:
                raise _invalid("phone", "not a phone number")
            given["phone"] = e164
        if account and not _IDENTIFIER.match(account):
            raise _invalid("account", "not an account number")
        if inn and not _INN.match(inn):
            raise _invalid("inn", "10 or 12 digits")
        identity = Identity.from_query(phone=given.get("phone"), account=account, inn=inn)
        return await answer(given, identity, _flag(query, "publish"), _flag(query, "fresh"))

    @router.hot_get("/customers/{golden_id}/view", patterns={"golden_id": _IDENTIFIER},
                    response_class=Response, responses=_VIEW_RESPONSE,
                    openapi_extra={"parameters": _VIEW_PARAMETERS})
    async def customer_view(
        http: HttpRequest, golden_id: Annotated[str, Path(pattern=_IDENTIFIER.pattern)],
    ) -> Response:
        """The aggregated view of a customer by their global (golden) id."""
        query = _query(http)
        return await answer({"golden_id": golden_id}, Identity.from_query(golden_id=golden_id),
                            _flag(query, "publish"), _flag(query, "fresh"))

    @router.get("/screen-pop/stream")
    async def screen_pop_stream(
        agent: Annotated[str, Query(pattern=_EXTENSION)], http: HttpRequest,
    ) -> StreamingResponse:
        """Server-Sent Events for the operator at this extension: pop, answered, ended."""
        session = state.hub.open(agent)
        for event in state.screen_pop.ringing_for(agent):  # calls ringing before the page
            session.put(event)
        return StreamingResponse(
            _events(state, session, shutting_down(http.app)), media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @router.get("/screen-pop/sessions")
    async def screen_pop_sessions() -> dict[str, Any]:
        """Open operator sessions by extension, and pushes so far."""
        return {"agents": state.hub.agents(), "pushed": state.hub.pushed}

    @router.post("/calls/originate")
    async def originate(body: OriginateRequest) -> dict[str, Any]:
        """Click-to-call: ring the agent, then dial the number; the PBX's answer."""
        number = to_e164(body.number, state.settings.region) or re.sub(r"[^0-9+*#]", "",
                                                                        body.number)
        if not _DIALED.match(number):
            raise _invalid("number", "not a number to dial", location="body")
        payload: dict[str, Any] = {
            "agent_extension": body.agent, "number": number,
            "requested_by": {"system": "window", "user_id": body.user_id, "name": None},
            "crm_entity": ({"type": "customer", "id": body.customer_id}
                           if body.customer_id else None),
        }
        timeout = state.settings.originate_timeout
        try:
            reply = await request(ORIGINATE_TYPE, payload, timeout)
        except RequestTimeout:
            return _not_placed(payload, f"the PBX did not answer within {timeout:g} s")
        except RemoteError as error:
            return _not_placed(payload, f"the PBX failed: {error}")
        except PermanentError as error:
            raise _invalid_message(error) from None
        except EsbError as error:
            raise HTTPException(503, error.reason) from None
        return dict(reply)

    @router.post("/calls/{call_id}/result", status_code=202)
    async def call_result(
        call_id: Annotated[str, Path(pattern=_IDENTIFIER.pattern)], body: CallResult,
    ) -> dict[str, Any]:
        """Record the call's result and notes; the CRM adapter writes them to the call."""
        payload = {"call_id": call_id, "result": body.result, "notes": body.notes,
                   "agent_extension": body.agent, "agent_id": body.agent_id,
                   "annotated_at": datetime.now(UTC).isoformat()}
        message_id = await _publish(publish, RESULT_TYPE, payload, call_id)
        return {"message_id": message_id, "type": RESULT_TYPE}

    return router


def _query(http: HttpRequest) -> dict[str, str]:
    """The query string's parameters; a repeated one counts by its last value, as in FastAPI."""
    return dict(parse_qsl(http.scope.get("query_string", b"").decode("latin-1"),
                          keep_blank_values=True))


def _flag(query: Mapping[str, str], name: str) -> bool:
    value = query.get(name)
    if value is None:
        return False
    flag = _BOOLEANS.get(value.lower())
    if flag is None:
        raise _invalid(name, "not a boolean")
    return flag


def _invalid(field: str, message: str, location: str = "query") -> RequestValidationError:
    """A 422 in FastAPI's own shape, as for any other invalid parameter."""
    return RequestValidationError([{"loc": (location, field), "msg": message,
                                    "type": "value_error", "input": None}])


def _invalid_message(error: PermanentError) -> RequestValidationError:
    """The bus refused the message built from the body (its schema): the documented 422."""
    return RequestValidationError([{"loc": ("body",), "msg": error.reason,
                                    "type": "value_error", "input": None}])


def _not_placed(payload: Mapping[str, Any], reason: str) -> dict[str, Any]:
    """The PBX's reply shape (pbx.originate.replied.v1) for a call it never confirmed."""
    return {"status": "failed", "reason": reason, "call_id": None,
            "agent_extension": payload["agent_extension"], "number": payload["number"],
            "requested_by": payload["requested_by"], "crm_entity": payload["crm_entity"]}


async def _publish(publish: Publish, type: str, payload: Mapping[str, Any],
                   key: str | None) -> str:
    try:
        return await publish(type, payload, key)
    except PermanentError as error:
        raise _invalid_message(error) from None
    except EsbError as error:
        raise HTTPException(503, error.reason) from None


async def _events(state: WindowState, session: AgentSession,
                  stopping: asyncio.Event) -> AsyncIterator[bytes]:
    """The session's events until the page goes away or the API shuts down."""
    keepalive = state.settings.stream_keepalive
    stopped = asyncio.ensure_future(stopping.wait())
    got: asyncio.Future[dict[str, Any]] | None = None
    try:
        yield b"retry: 3000\n\n"
        yield _sse({"event": "connected", "agent": session.agent})
        while not stopping.is_set():
            if got is None:
                got = asyncio.ensure_future(session.queue.get())
            await asyncio.wait((got, stopped), timeout=keepalive,
                               return_when=asyncio.FIRST_COMPLETED)
            if got.done():
                event, got = got.result(), None
                yield _sse(event)
            elif not stopping.is_set():
                yield b": keep-alive\n\n"
    finally:
        for waiting in (got, stopped):
            if waiting is not None:
                waiting.cancel()  # a cancelled get() takes nothing off the queue
        state.hub.close(session)


def _sse(event: Mapping[str, Any]) -> bytes:
    data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event['event']}\ndata: {data}\n\n".encode()
