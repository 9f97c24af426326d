"""A document-flow repository on loopback speaking a CMIS 1.1 browser-binding subset.

::

    with DocflowSimulator() as sim:               # the built-in seed (DocflowData.seed)
        settings = DocflowSettings(url=sim.url, user=sim.user, password=sim.password)
        ...
        sim.data.update("DOC-00000002", status="cancelled")   # a change the feed will see

A real HTTP server (FastAPI under uvicorn in a background thread), HTTP basic
auth, one repository. What it answers (``{url}`` is the browser binding's
service URL, ``{repo}`` = ``{url}/{repositoryId}``, ``{root}`` = ``{repo}/root``):

=======================================================  ===============================
``GET  {url}``, ``GET {repo}?cmisselector=repositoryInfo``  repository infos by id
``GET  {repo}?cmisselector=query&q=...``                 ``results``/``hasMoreItems``/``numItems``
``GET  {root}?objectId=X&cmisselector=object``           the object (``succinctProperties``)
``GET  {root}?objectId=X&cmisselector=content``          the content stream (PDF)
``POST {root}`` ``cmisaction=createDocument`` (multipart)  201 and the new object
=======================================================  ===============================

Errors are the binding's JSON ``{"exception": "objectNotFound", "message": ...}``
with its HTTP status. Switches for the reliability tests: :meth:`~DocflowSimulator.slow`,
:meth:`~DocflowSimulator.fail` (an HTTP status), :meth:`~DocflowSimulator.drop`
(the connection closes half-way through the answer); each may be limited to
one operation (a ``cmisselector`` or ``cmisaction`` value) and a number of times.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections import Counter
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.docflow.simdata import DocflowData, Properties
from adapters.docflow.simquery import InvalidQuery, parse
from bus.adapters.loopback import LoopbackServer
from bus.adapters.simulation import Fault, FaultSwitches, serve_until_interrupted
from bus.adapters.simulation import operations as only

__all__ = ["DocflowSimulator"]

_STATUS = {"invalidArgument": 400, "permissionDenied": 403, "objectNotFound": 404,
           "notSupported": 405, "constraint": 409, "runtime": 500}


class _Dropped(Exception):
    """Raised after the answer's headers are sent: uvicorn closes the connection."""


class DocflowSimulator(LoopbackServer):
    server_name = "docflow simulator"
    log_level = "critical"

    def __init__(self, data: DocflowData | None = None, *, user: str = "esb",
                 password: str = "docflow-secret", host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.data = data or DocflowData.seed()
        self.user = user
        self.password = password
        self.calls: Counter[str] = Counter()
        """Requests per operation (``query``, ``content``, ``createDocument``, ...)."""
        self.queries: list[str] = []
        """Every CMIS QL statement asked, in order."""
        self.faults = FaultSwitches()
        self._lock = threading.Lock()
        super().__init__(host=host, port=port)

    @property
    def url(self) -> str:
        """The browser binding's service URL."""
        return f"{self.base_url}/cmis/browser"

    def asgi(self) -> ASGIApp:
        return self._gate(self.app())

    # -- switches -------------------------------------------------------------

    def slow(self, seconds: float, *, times: int | None = None,
             operation: str | None = None) -> None:
        """Answer the next ``times`` requests (all when None) after ``seconds``."""
        self.faults.add(Fault("slow", only(operation), times, seconds=seconds))

    def fail(self, status: int = 503, *, times: int | None = None,
             operation: str | None = None) -> None:
        """Answer the next ``times`` requests (all when None) with HTTP ``status``."""
        self.faults.add(Fault("fail", only(operation), times, status=status))

    def drop(self, *, times: int | None = None, operation: str | None = None,
             after: int = 0) -> None:
        """Close the connection half-way through the answer, ``times`` times after ``after``
        requests answered normally."""
        self.faults.add(Fault("drop", only(operation), times, after))

    def clear(self) -> None:
        """Back to normal service."""
        self.faults.clear()

    # -- the HTTP side ----------------------------------------------------------

    def _gate(self, app: ASGIApp) -> ASGIApp:
        """Count, authenticate, and apply the switches before the CMIS answer."""
        expected = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()

        async def gate(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            operation = _operation(scope)
            with self._lock:
                self.calls[operation] += 1
            headers = dict(scope.get("headers") or [])
            if headers.get(b"authorization", b"").decode() != expected:
                await _error(401, "permissionDenied", "unauthorized")(scope, receive, send)
                return
            slow = self.faults.active("slow", operation)
            if slow:
                await asyncio.sleep(slow.seconds)
            broken = self.faults.active("fail", operation)
            if broken:
                await _error(broken.status, "runtime" if broken.status >= 500 else
                             "invalidArgument", "simulated failure")(scope, receive, send)
                return
            if self.faults.active("drop", operation):
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", b"4096")]})
                await send({"type": "http.response.body", "body": b'{"results": [',
                            "more_body": True})
                raise _Dropped(operation)
            await app(scope, receive, send)

        return gate

    def app(self) -> FastAPI:
        app = FastAPI(title="CMIS browser binding simulator")
        data = self.data

        def infos() -> dict[str, Any]:
            repo = f"{self.url}/{data.repository_id}"
            return {data.repository_id: {
                "repositoryId": data.repository_id, "repositoryName": "ESB documents",
                "repositoryDescription": "docflow simulator", "vendorName": "Telecom ESB",
                "productName": "docflow-simulator", "productVersion": "1.0",
                "cmisVersionSupported": "1.1", "rootFolderId": "root",
                "repositoryUrl": repo, "rootFolderUrl": f"{repo}/root",
                "capabilities": {"capabilityQuery": "metadataonly"},
            }}

        @app.get("/cmis/browser")
        def service() -> dict[str, Any]:
            return infos()

        @app.get("/cmis/browser/{repository_id}")
        def repository(repository_id: str, request: Request) -> Response:
            if repository_id != data.repository_id:
                return _error(404, "objectNotFound", f"no repository {repository_id}")
            params = request.query_params
            selector = params.get("cmisselector") or "repositoryInfo"
            if selector == "repositoryInfo":
                return JSONResponse(infos())
            if selector != "query":
                return _error(400, "invalidArgument", f"selector {selector} not supported")
            with self._lock:
                self.queries.append(params.get("q") or "")
            try:
                query = parse(params.get("q") or "")
                skip = int(params.get("skipCount") or 0)
                limit = int(params.get("maxItems") or 100)
            except (InvalidQuery, ValueError) as error:
                return _error(400, "invalidArgument", str(error))
            found = query.run(data.all_properties())
            page = found[skip: skip + limit]
            return JSONResponse({
                "results": [{"succinctProperties": p} for p in page],
                "hasMoreItems": skip + len(page) < len(found), "numItems": len(found)})

        @app.get("/cmis/browser/{repository_id}/root")
        def read(repository_id: str, request: Request) -> Response:
            object_id = request.query_params.get("objectId") or ""
            selector = request.query_params.get("cmisselector") or "object"
            with data.lock:
                stored = data.documents.get(object_id)
                if repository_id != data.repository_id or stored is None:
                    return _error(404, "objectNotFound", f"no object {object_id}")
                if selector == "content":
                    name = str(stored.properties.get("cmis:contentStreamFileName") or "")
                    return Response(stored.content, media_type=str(
                        stored.properties["cmis:contentStreamMimeType"]), headers={
                        "Content-Disposition": f'attachment; filename="{_ascii(name)}"'})
                if selector in ("object", "properties"):
                    return JSONResponse({"succinctProperties": dict(stored.properties)})
            return _error(400, "invalidArgument", f"selector {selector} not supported")

        @app.post("/cmis/browser/{repository_id}/root")
        async def create(repository_id: str, request: Request) -> Response:
            if repository_id != data.repository_id:
                return _error(404, "objectNotFound", f"no repository {repository_id}")
            async with request.form() as form:
                if form.get("cmisaction") != "createDocument":
                    return _error(400, "invalidArgument", "only cmisaction=createDocument")
                properties = _form_properties({k: v for k, v in form.multi_items()
                                               if isinstance(v, str)})
                upload = form.get("content")
                if upload is None or isinstance(upload, str):
                    return _error(409, "constraint", "a document needs a content stream")
                if properties.get("cmis:objectTypeId") != "esb:document":
                    return _error(409, "constraint", "cmis:objectTypeId must be esb:document")
                if not properties.get("cmis:name"):
                    return _error(409, "constraint", "cmis:name is required")
                content = await upload.read()
                stored = data.add(_typed(properties), content,
                                  mime_type=upload.content_type or "application/octet-stream")
                with data.lock:
                    data.created.append(str(stored["cmis:objectId"]))
                return JSONResponse({"succinctProperties": stored}, status_code=201)

        return app


def _operation(scope: Scope) -> str:
    query = (scope.get("query_string") or b"").decode("latin-1")
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == "cmisselector":
            return value
    if scope.get("method") == "POST":
        return "createDocument"
    return "repositoryInfo"


def _form_properties(form: dict[str, str]) -> Properties:
    """``propertyId[i]`` / ``propertyValue[i]`` pairs of a browser-binding form."""
    properties: Properties = {}
    index = 0
    while f"propertyId[{index}]" in form:
        properties[form[f"propertyId[{index}]"]] = form.get(f"propertyValue[{index}]")
        index += 1
    return properties


def _typed(properties: Properties) -> Properties:
    """Form values are text: ``esb:docDate`` is a DateTime (milliseconds)."""
    typed = {name: (value if value != "" else None) for name, value in properties.items()}
    if typed.get("esb:docDate") is not None:
        typed["esb:docDate"] = int(str(typed["esb:docDate"]))
    return typed


def _ascii(name: str) -> str:
    return name.encode("ascii", "replace").decode().replace('"', "'")


def _error(status: int, exception: str, message: str) -> JSONResponse:
    return JSONResponse({"exception": exception, "message": message}, status_code=status)


def main(argv: list[str] | None = None) -> None:
    """``python -m adapters.docflow.simulator [--port N] [--data DIR]``: serve until killed.

    Prints the service URL on the first line, for scripts that start it.
    """
    import argparse

    parser = argparse.ArgumentParser(description="A CMIS 1.1 browser-binding repository")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=34030)
    parser.add_argument("--data", help="a datagen output directory (default: the built-in seed)")
    options = parser.parse_args(argv)
    data = DocflowData.from_directory(options.data) if options.data else DocflowData.seed()
    simulator = DocflowSimulator(data, host=options.host, port=options.port)
    serve_until_interrupted(simulator)


if __name__ == "__main__":
    main()
