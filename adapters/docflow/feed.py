"""The docflow change feed: a CMIS repository does not push, so we poll.

Each poll (:meth:`DocumentFeed.pass_once`, a :class:`~bus.adapters.feed.PollingFeed`) asks
for our documents with ``cmis:lastModificationDate >= watermark - overlap``,
oldest change first, a page at a time (keyset paging: the next page starts at
the newest date of the last one, skipping the documents of that date already
read, so a document changing during the poll cannot push another out of a
page). Each page is staged through the transactional outbox together with the
new watermark (:class:`~adapters.docflow.feedstate.FeedState`):

* a document the feed has not published before and that was created since
  the feed last looked -> ``docflow.document.registered.v1``;
* any other change (and, on the very first poll, every document: a snapshot)
  -> ``docflow.document.changed.v1`` with ``change = "updated"``.

What is read twice (the overlap, a restart mid-poll) is published once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from adapters.docflow import mapping
from adapters.docflow.client import CmisClient
from adapters.docflow.feedstate import FeedState, Properties
from adapters.docflow.settings import DocflowSettings
from bus.adapters.feed import PollingFeed
from bus.app import Bus
from bus.envelope import Envelope

__all__ = ["CHANGED", "REGISTERED", "DocumentFeed"]

log = logging.getLogger(__name__)

REGISTERED = "docflow.document.registered.v1"
CHANGED = "docflow.document.changed.v1"


class DocumentFeed(PollingFeed[DocflowSettings]):
    system = "docflow"

    def __init__(self, bus: Bus, client: CmisClient, settings: DocflowSettings,
                 *, source: str = "docflow") -> None:
        super().__init__(bus, settings, source=source)
        self.client = client
        self.state = FeedState(bus.engine)

    def watermark(self) -> int | None:
        return self.state.watermark()

    async def pass_once(self) -> int:
        since = await asyncio.to_thread(self.state.watermark)
        overlap = int(self.settings.feed_overlap * 1000)
        cursor = None if since is None else since - overlap
        new_after = cursor

        def build(properties: Properties, known: bool) -> Envelope | None:
            return self._envelope(properties, known=known, new_after=new_after)

        staged = 0
        skip = 0
        while True:
            page = await self.client.changed_since(
                cursor, max_items=self.settings.page_size, skip_count=skip)
            stamps = [int(p.get("cmis:lastModificationDate") or 0) for p in page.results]
            newest = max(stamps) if stamps else None
            staged += len(await asyncio.to_thread(self.state.stage, page.results, build,
                                                  newest))
            if not page.has_more or newest is None:
                return staged
            if newest == cursor:
                skip += len(page.results)
            else:
                skip = stamps.count(newest)
                cursor = newest

    def _envelope(self, properties: Properties, *, known: bool,
                  new_after: int | None) -> Envelope | None:
        """The event of one document, or None (logged) so one odd record cannot stop the feed."""
        object_id = str(properties.get("cmis:objectId") or "")
        if not mapping.is_publishable_id(object_id):
            log.error("docflow document id %r is not a canonical identifier: not published",
                      object_id[:80])
            return None
        try:
            document = mapping.document(properties, content_base=self.settings.content_base)
        except Exception:  # read again next poll
            log.exception("docflow document %s could not be mapped", object_id)
            return None
        created = int(properties.get("cmis:creationDate") or 0)
        payload: dict[str, Any]
        if not known and new_after is not None and created >= new_after:
            event = REGISTERED
            payload = {"document": document,
                       "external_id": _identifier(properties.get("esb:externalId"))}
        else:
            event = CHANGED
            payload = {"change": "updated", "document": document}
        envelope = Envelope(type=event, payload=payload, source=self.source, key=object_id)
        return self.checked(envelope, f"document {object_id}")


def _identifier(value: Any) -> str | None:
    text = str(value or "").strip()
    return text if text and mapping.is_publishable_id(text) else None
