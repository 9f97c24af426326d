"""The only module of the adapter that speaks CMIS 1.1 (browser binding: JSON over HTTP, httpx).

What it uses of the binding (``{url}`` is the service URL from the settings;
``repositoryUrl`` and ``rootFolderUrl`` come from the repository info)::

    GET  {url}                                           repository infos, by repository id
    GET  {repositoryUrl}?cmisselector=query&q=...&succinct=true&maxItems=&skipCount=
         -> {"results": [{"succinctProperties": {...}}], "hasMoreItems": b, "numItems": n}
    GET  {rootFolderUrl}?objectId=X&cmisselector=object&succinct=true  -> {"succinctProperties"}
    GET  {rootFolderUrl}?objectId=X&cmisselector=content                -> the bytes
    POST {rootFolderUrl}  multipart: cmisaction=createDocument, propertyId[i]/propertyValue[i],
         succinct=true, content (the file)                               -> 201, the new object

Succinct ``DateTime`` values are milliseconds since the epoch; CMIS QL string
literals are single-quoted with ``\\'`` and ``\\\\`` escaped.

Errors say what the bus should do: network errors, timeouts, a connection
dropped half-way, 5xx, 408 and 429 raise :class:`~bus.errors.ExternalSystemUnavailable`
(retried); other 4xx (the binding's ``invalidArgument``, ``permissionDenied``,
``constraint``...) raise :class:`~bus.errors.ExternalSystemRejected`
(dead-lettered), 404 (``objectNotFound``) as :class:`NotFound`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from adapters.docflow.settings import DocflowSettings
from bus.adapters.http_errors import raise_for_status, unavailable
from bus.errors import ExternalSystemRejected, ExternalSystemUnavailable
from bus.masking import mask_text

__all__ = ["CmisClient", "Content", "ContentStream", "NotFound", "QueryPage",
           "string_literal", "timestamp_literal"]

log = logging.getLogger(__name__)

Properties = dict[str, Any]


class NotFound(ExternalSystemRejected):
    """The repository answered 404 (``objectNotFound``)."""


@dataclass(frozen=True, slots=True)
class QueryPage:
    results: list[Properties]
    has_more: bool
    total: int | None
    """``numItems`` when the repository tells it."""


@dataclass(frozen=True, slots=True)
class Content:
    data: bytes
    media_type: str
    file_name: str | None


@dataclass(frozen=True, slots=True)
class _Repository:
    info: dict[str, Any]
    repository_url: str
    root_folder_url: str


class CmisClient:
    """One CMIS repository over a pooled :class:`httpx.AsyncClient`."""

    def __init__(self, url: str, user: str = "", password: str = "", *,
                 repository_id: str = "", document_type: str = "esb:document",
                 timeout: float = 10.0, max_content_bytes: int = 20_000_000,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self.repository_id = repository_id
        self.document_type = document_type
        self.max_content_bytes = max_content_bytes
        self._repository: _Repository | None = None
        self._http = httpx.AsyncClient(
            timeout=timeout, transport=transport, trust_env=False,
            auth=httpx.BasicAuth(user, password) if user else None,
            headers={"Accept": "application/json"})

    @classmethod
    def from_settings(cls, settings: DocflowSettings) -> CmisClient:
        return cls(settings.url, settings.user, settings.password.get_secret_value(),
                   repository_id=settings.repository_id,
                   document_type=settings.document_type, timeout=settings.timeout,
                   max_content_bytes=settings.max_content_bytes)

    async def close(self) -> None:
        await self._http.aclose()

    # -- repository -------------------------------------------------------------

    async def repository_info(self, *, refresh: bool = False) -> dict[str, Any]:
        """The repository's info (id, name, product, CMIS version), read from the service URL."""
        return (await self._repo(refresh=refresh)).info

    async def _repo(self, *, refresh: bool = False) -> _Repository:
        if self._repository is not None and not refresh:
            return self._repository
        infos = await self._json("GET", self.url, "repositories")
        if not isinstance(infos, dict) or not infos:
            raise ExternalSystemRejected(f"cmis GET {self.url}: no repository listed")
        wanted = self.repository_id or next(iter(infos))
        info = infos.get(wanted)
        if not isinstance(info, dict):
            raise NotFound(f"cmis GET {self.url}: no repository {wanted!r} "
                           f"(there are: {', '.join(map(str, infos))})")
        repository_url = str(info.get("repositoryUrl") or f"{self.url}/{wanted}")
        self._repository = _Repository(
            info, repository_url, str(info.get("rootFolderUrl") or f"{repository_url}/root"))
        return self._repository

    # -- reading ----------------------------------------------------------------

    async def query(self, statement: str, *, max_items: int = 100,
                    skip_count: int = 0) -> QueryPage:
        """One page of a CMIS QL query's results (succinct properties)."""
        repo = await self._repo()
        found = await self._json("GET", repo.repository_url, "query", params={
            "cmisselector": "query", "q": statement, "searchAllVersions": "false",
            "succinct": "true", "maxItems": str(max_items), "skipCount": str(skip_count)})
        results = [dict(item.get("succinctProperties") or {})
                   for item in found.get("results") or []]
        total = found.get("numItems")
        return QueryPage(results, bool(found.get("hasMoreItems")),
                         int(total) if isinstance(total, int) else None)

    async def documents_where(self, prop: str, values: Sequence[str], *,
                              limit: int) -> QueryPage:
        """Our documents whose ``prop`` is one of ``values``, newest document date first."""
        if len(values) == 1:
            condition = f"{prop} = {string_literal(values[0])}"
        else:
            condition = f"{prop} IN ({', '.join(string_literal(v) for v in values)})"
        return await self.query(
            f"SELECT * FROM {self.document_type} WHERE {condition} "
            f"ORDER BY esb:docDate DESC", max_items=limit)

    async def changed_since(self, millis: int | None, *, max_items: int,
                            skip_count: int = 0) -> QueryPage:
        """Our documents modified at or after ``millis`` (all when None), oldest change first."""
        where = (f" WHERE cmis:lastModificationDate >= {timestamp_literal(millis)}"
                 if millis is not None else "")
        return await self.query(
            f"SELECT * FROM {self.document_type}{where} "
            f"ORDER BY cmis:lastModificationDate ASC", max_items=max_items,
            skip_count=skip_count)

    async def get_object(self, object_id: str) -> Properties:
        """A document's properties; :class:`NotFound` if there is none."""
        repo = await self._repo()
        found = await self._json("GET", repo.root_folder_url, "object", params={
            "objectId": object_id, "cmisselector": "object", "succinct": "true"})
        return dict(found.get("succinctProperties") or {})

    async def get_content(self, object_id: str) -> Content:
        """A document's content stream, read whole; :class:`NotFound` if there is none."""
        stream = await self.open_content(object_id)
        try:
            data = bytearray()
            async for chunk in stream.chunks():
                data += chunk
                if len(data) > self.max_content_bytes:
                    raise ExternalSystemRejected(
                        f"cmis content of {object_id}: over the limit of "
                        f"{self.max_content_bytes} bytes")
        finally:
            await stream.aclose()
        return Content(bytes(data), stream.media_type, stream.file_name)

    async def open_content(self, object_id: str) -> ContentStream:
        """A document's content stream, open for reading in chunks (close it when done).

        The status is checked before this returns: :class:`NotFound` and the other
        errors are raised here, not half-way through the chunks.
        """
        repo = await self._repo()
        request = self._http.build_request("GET", repo.root_folder_url, params={
            "objectId": object_id, "cmisselector": "content"})
        where = "cmis content"
        try:
            response = await self._http.send(request, stream=True)
        except httpx.HTTPError as error:
            raise unavailable(where, error) from error
        try:
            if response.status_code >= 400:
                await response.aread()
                raise_for_status(where, response, detail=_detail, not_found=NotFound,
                                 expect_json=False)
        except httpx.HTTPError as error:
            await response.aclose()
            raise unavailable(where, error) from error
        except BaseException:
            await response.aclose()
            raise
        length = response.headers.get("Content-Length")
        return ContentStream(
            response, response.headers.get("Content-Type", "application/octet-stream"),
            _file_name(response.headers.get("Content-Disposition", "")),
            int(length) if length and length.isdigit() else None)

    # -- writing ----------------------------------------------------------------

    async def find_by_external_id(self, external_id: str) -> Properties | None:
        page = await self.query(
            f"SELECT * FROM {self.document_type} "
            f"WHERE esb:externalId = {string_literal(external_id)}", max_items=2)
        return page.results[0] if page.results else None

    async def register(self, properties: Mapping[str, Any], content: bytes, *,
                       file_name: str, media_type: str) -> tuple[Properties, bool]:
        """Create a document once per ``esb:externalId``: (its properties, whether it is new).

        The repository is asked first whether a document with this external id
        exists; a repeated command (a retry, a resent message) returns that one.
        """
        external_id = str(properties["esb:externalId"])
        existing = await self.find_by_external_id(external_id)
        if existing is not None:
            log.info("docflow: document %s already registered as %s", external_id,
                     existing.get("cmis:objectId"))
            return existing, False
        created = await self.create_document(properties, content, file_name=file_name,
                                             media_type=media_type)
        return created, True

    async def create_document(self, properties: Mapping[str, Any], content: bytes, *,
                              file_name: str, media_type: str) -> Properties:
        repo = await self._repo()
        form: dict[str, str] = {"cmisaction": "createDocument", "succinct": "true"}
        values = {"cmis:objectTypeId": self.document_type, **properties}
        for index, (name, value) in enumerate(values.items()):
            form[f"propertyId[{index}]"] = name
            form[f"propertyValue[{index}]"] = "" if value is None else str(value)
        found = await self._json("POST", repo.root_folder_url, "createDocument", data=form,
                                 files={"content": (file_name, content, media_type)})
        return dict(found.get("succinctProperties") or {})

    # -- plumbing -----------------------------------------------------------------

    async def _json(self, method: str, url: str, operation: str, **kwargs: Any) -> Any:
        response = await self._send(method, url, operation, **kwargs)
        try:
            return response.json()
        except ValueError as error:
            raise ExternalSystemUnavailable(
                f"cmis {operation}: HTTP {response.status_code} with a body that is not "
                f"JSON") from error

    async def _send(self, method: str, url: str, operation: str, *,
                    expect_json: bool = True, **kwargs: Any) -> httpx.Response:
        where = f"cmis {operation}"
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.HTTPError as error:
            raise unavailable(where, error) from error
        raise_for_status(where, response, detail=_detail, not_found=NotFound,
                         expect_json=expect_json)
        return response


class ContentStream:
    """An open content stream: its type, name and length, and its bytes in chunks."""

    def __init__(self, response: httpx.Response, media_type: str, file_name: str | None,
                 length: int | None) -> None:
        self._response = response
        self.media_type = media_type
        self.file_name = file_name
        self.length = length

    async def chunks(self) -> AsyncIterator[bytes]:
        """The bytes; a connection lost half-way raises ExternalSystemUnavailable."""
        try:
            async for chunk in self._response.aiter_bytes():
                yield chunk
        except httpx.HTTPError as error:
            raise unavailable("cmis content", error) from error

    async def aclose(self) -> None:
        await self._response.aclose()


def string_literal(value: str) -> str:
    """A CMIS QL string literal: quoted, with backslash and quote escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def timestamp_literal(millis: int) -> str:
    moment = datetime.fromtimestamp(millis / 1000, tz=UTC)
    return f"TIMESTAMP '{moment.strftime('%Y-%m-%dT%H:%M:%S')}.{millis % 1000:03d}Z'"


def _detail(response: httpx.Response) -> str:
    """The binding's ``exception: message`` when the body has them, else the text; an INN
    or passport the repository echoes (from a query) is masked, as it reaches dead letters."""
    try:
        body = response.json()
    except ValueError:
        return mask_text(response.text[:200])
    if isinstance(body, dict) and "exception" in body:
        return mask_text(f"{body['exception']}: {str(body.get('message') or '')[:200]}")
    return mask_text(response.text[:200])


def _file_name(disposition: str) -> str | None:
    for part in disposition.split(";"):
        name, _, value = part.strip().partition("=")
        if name.lower() == "filename" and value:
            return value.strip('"')
    return None
