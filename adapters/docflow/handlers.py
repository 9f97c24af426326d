"""The docflow adapter's bus handlers: a customer's documents, and registering a document.

Both get the :class:`~adapters.docflow.client.CmisClient` and the
:class:`~adapters.docflow.settings.DocflowSettings` injected (``Adapter.provide``),
so each is a plain async function in a unit test.

**Registration is idempotent** by the command's ``external_id``, kept in the
document's ``esb:externalId`` property: the repository is asked for it before
creating (:meth:`~adapters.docflow.client.CmisClient.register`), so a retry after
a timeout, a redelivery or a resent command creates nothing new. The new
document is announced by the change feed (``docflow.document.registered.v1``),
which is poked at once.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from typing import Any

from adapters.docflow import mapping
from adapters.docflow.client import CmisClient, NotFound, QueryPage
from adapters.docflow.feed import DocumentFeed
from adapters.docflow.settings import DocflowSettings
from bus.adapters.replies import failure
from bus.envelope import Envelope
from bus.errors import ExternalSystemRejected, ExternalSystemUnavailable, SchemaViolation
from bus.router import Router

__all__ = ["find_documents", "register_document", "router"]

log = logging.getLogger(__name__)

router = Router(source="docflow")

DEFAULT_LIMIT = 50


@router.responder("docflow.documents.requested.v1", "docflow.documents.replied.v1")
async def find_documents(
    payload: dict[str, Any], client: CmisClient, settings: DocflowSettings,
) -> dict[str, Any]:
    """A customer's documents by INN, account number or customer id, live from the repository."""
    asked = mapping.lookup(payload)
    if asked is None:
        return {"documents": [], "error": {
            "code": "rejected", "message": "documents are found by INN, account number or "
                                           "customer id"}}
    prop, values = asked
    try:
        page = await _documents(client, prop, values,
                                limit=int(payload.get("limit") or DEFAULT_LIMIT))
    except (ExternalSystemUnavailable, ExternalSystemRejected) as error:
        return {"documents": [], "error": failure(error)}
    documents = [mapping.document(found, content_base=settings.content_base)
                 for found in page.results
                 if mapping.is_publishable_id(str(found.get("cmis:objectId") or ""))]
    if not documents:
        return {"documents": [], "has_more": False, "error": {
            "code": "not_found", "message": "no document of this customer in the docflow"}}
    return {"documents": documents, "has_more": page.has_more, "error": None}


async def _documents(client: CmisClient, prop: str, values: list[str], *,
                     limit: int) -> QueryPage:
    """The documents asked for. A ``customer_id`` nothing carries in ``esb:customerId`` may be
    a document id: the synchronizer's xref knows a docflow customer by one of their
    documents (the docflow has no customer records), so the documents of that document's
    counterparty (same INN, else customer id, else account) are the answer."""
    page = await client.documents_where(prop, values, limit=limit)
    if page.results or prop != "esb:customerId":
        return page
    try:
        anchor = await client.get_object(values[0])
    except NotFound:
        return page
    for key in ("esb:inn", "esb:customerId", "esb:accountNo"):
        if anchor.get(key):
            return await client.documents_where(key, [str(anchor[key])], limit=limit)
    return QueryPage([anchor], has_more=False, total=1)


@router.subscriber("docflow.registration", "docflow.registration.requested.v1")
async def register_document(
    envelope: Envelope, client: CmisClient, feed: DocumentFeed,
) -> None:
    """Create the document with its file in the repository, once per external id."""
    command = envelope.payload
    try:
        content = base64.b64decode(str(command["content_base64"]), validate=True)
    except binascii.Error as error:
        raise SchemaViolation(f"content_base64 is not base64: {error}",
                              field="payload.content_base64",
                              message_id=envelope.id) from None
    file_name = _file_name(command.get("file_name"), str(command["number"]))
    properties = mapping.registration_properties(command, file_name=file_name)
    stored, created = await client.register(
        properties, content, file_name=file_name,
        media_type=str(command.get("media_type") or "application/pdf"))
    log.info("docflow: %s %s as document %s", "registered" if created else "already had",
             command["external_id"], stored.get("cmis:objectId"))
    feed.poke()


def _file_name(given: Any, number: str) -> str:
    """A file name safe in a multipart header and a CMIS name."""
    name = str(given or f"{number}.pdf")
    return re.sub(r'[\x00-\x1f"/\\:*?<>|]+', "_", name).strip() or "document.pdf"
