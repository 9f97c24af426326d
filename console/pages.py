"""The pages and their static files, served from the package (no build step, no CDN)."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, HTTPException
from fastapi.responses import RedirectResponse, Response

__all__ = ["STATIC_FILES", "page_routes"]

_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


def _static_files() -> dict[str, tuple[bytes, str]]:
    """Every file under ``console/static``, read once: name -> (bytes, media type)."""
    found = {}
    for item in resources.files("console").joinpath("static").iterdir():
        suffix = "." + item.name.rsplit(".", 1)[-1]
        if item.is_file() and suffix in _MEDIA_TYPES:
            found[item.name] = (item.read_bytes(), _MEDIA_TYPES[suffix])
    return found


STATIC_FILES = _static_files()

_PAGES = {"operator": "operator.html", "console": "console.html"}
_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    # everything comes from the bus itself: no CDN, no inline script, works offline
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
}


def _file(name: str) -> Response:
    found = STATIC_FILES.get(name)
    if found is None:
        raise HTTPException(404, f"no file {name}")
    body, media_type = found
    return Response(body, media_type=media_type, headers=_HEADERS)


def page_routes() -> APIRouter:
    router = APIRouter(tags=["pages"], include_in_schema=False)

    @router.get("/ui")
    async def index() -> RedirectResponse:
        return RedirectResponse("/ui/console")

    @router.get("/ui/{page}")
    async def page(page: str) -> Response:
        if page not in _PAGES:
            raise HTTPException(404, f"no page {page}")
        return _file(_PAGES[page])

    @router.get("/ui/static/{name}")
    async def static(name: str) -> Response:
        return _file(name)

    return router
