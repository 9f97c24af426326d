"""The document flow (a CMIS 1.1 repository) on the bus: the adapter the entry point names.

It answers "documents of this customer" (:func:`~adapters.docflow.handlers.find_documents`),
registers signed documents (:func:`~adapters.docflow.handlers.register_document`),
polls the repository for new and changed documents (:class:`~adapters.docflow.feed.DocumentFeed`)
and serves a document's file through the bus API
(``GET /v1/adapters/docflow/documents/{id}/content``, :meth:`DocflowAdapter.api_routes`):
the content links in canonical documents point there, so a browser never needs the
repository's address or credentials. :meth:`~DocflowAdapter.check` is
``esb adapters check docflow``: the repository info.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.background import BackgroundTask

from adapters.docflow.client import CmisClient, NotFound
from adapters.docflow.feed import CHANGED, REGISTERED, DocumentFeed
from adapters.docflow.handlers import router
from adapters.docflow.settings import DocflowSettings
from bus.adapters import Adapter, AdapterManifest, AdapterSettings, Health
from bus.adapters.lifecycle import BackgroundWork, settings_of
from bus.errors import EsbError, ExternalSystemUnavailable

if TYPE_CHECKING:
    from bus.app import Bus

__all__ = ["DocflowAdapter"]

log = logging.getLogger(__name__)


class DocflowAdapter(Adapter):
    manifest = AdapterManifest(
        name="docflow", version="0.1.0",
        description="Document flow over CMIS 1.1 (browser binding): a customer's documents, "
                    "registering signed contracts, new and changed documents, content download",
        consumes=("docflow.documents.requested.v1", "docflow.registration.requested.v1"),
        publishes=("docflow.documents.replied.v1", REGISTERED, CHANGED),
        settings=DocflowSettings,
    )
    router = router

    def __init__(self, settings: AdapterSettings, bus: Bus) -> None:
        super().__init__(settings, bus)
        self.config = settings_of(self, settings, DocflowSettings)
        self.client = CmisClient.from_settings(self.config)
        self.feed = DocumentFeed(bus, self.client, self.config, source=router.source)
        self.work = BackgroundWork()
        self._last_ok: float | None = None

    def provide(self) -> dict[type, object]:
        return {CmisClient: self.client, DocflowSettings: self.config, DocumentFeed: self.feed}

    def api_routes(self) -> APIRouter:
        routes = APIRouter()
        client = self.client

        @routes.get("/documents/{doc_id:path}/content", response_model=None)
        async def document_content(doc_id: str) -> Response:
            """The document's file, streamed from the repository's content stream."""
            try:
                stream = await client.open_content(doc_id)
            except NotFound:
                return JSONResponse({"detail": f"no document {doc_id}"}, status_code=404)
            except ExternalSystemUnavailable as error:
                return JSONResponse({"detail": str(error)}, status_code=503)
            except EsbError as error:
                return JSONResponse({"detail": str(error)}, status_code=502)
            name = stream.file_name or f"{doc_id.rsplit('/', 1)[-1]}.pdf"
            headers = {"Content-Disposition":
                       f"attachment; filename*=UTF-8''{quote(name, safe='')}"}
            if stream.length is not None:  # a connection lost half-way shows as a short body
                headers["Content-Length"] = str(stream.length)
            return StreamingResponse(stream.chunks(), media_type=stream.media_type,
                                     headers=headers, background=BackgroundTask(stream.aclose))

        return routes

    async def start(self) -> None:
        self.work.begin()
        await asyncio.to_thread(self.feed.state.create_tables)
        if self.config.feed:
            self.work.spawn(self.feed.run(), "docflow-feed")

    async def stop(self) -> None:
        await self.work.stop()
        await self.client.close()

    async def health(self) -> Health:
        checks = {"url": self.config.url, "feed": self.config.feed,
                  "watermark": await asyncio.to_thread(self.feed.watermark),
                  **self.feed.status(), "last_ok": self._last_ok}
        try:
            info = await self.client.repository_info(refresh=True)
        except EsbError as error:
            return Health(ok=False, detail=str(error), checks=checks)
        self._last_ok = time.time()
        if self.config.feed and self.feed.last_error:
            return Health(ok=False, detail=f"feed: {self.feed.last_error}", checks=checks)
        return Health(ok=True, detail=f"repository {info.get('repositoryId')} answers",
                      checks=checks)

    async def check(self) -> str:
        """Read the repository info with the current settings."""
        try:
            info = await self.client.repository_info(refresh=True)
        finally:
            if not self.work.started:  # a check from the CLI: leave no connection open
                await self.client.close()
        return (f"repository {info.get('repositoryId')} ({info.get('repositoryName')}) at "
                f"{self.config.url}: {info.get('productName')} {info.get('productVersion')}, "
                f"CMIS {info.get('cmisVersionSupported')}")
