"""What an HTTP adapter's failed call means to the bus (the CRM, docflow, Bitrix24 clients).

One rule for every JSON-over-HTTP backend: network errors, timeouts, 5xx, 408
and 429 are :class:`~bus.errors.ExternalSystemUnavailable` (retried); 404 is the
adapter's own ``NotFound`` and other 4xx :class:`~bus.errors.ExternalSystemRejected`
(dead-lettered); a success that should be JSON and is not is unavailable too (a
proxy's error page, a half-configured gateway).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from bus.errors import ExternalSystemRejected, ExternalSystemUnavailable

__all__ = ["RETRIED_STATUSES", "raise_for_status", "unavailable"]

RETRIED_STATUSES = frozenset({408, 429})
"""4xx statuses that say "later", not "never": request timeout, too many requests."""


def unavailable(where: str, error: httpx.HTTPError) -> ExternalSystemUnavailable:
    """The bus error for a request that got no answer: ``where`` and what happened."""
    if isinstance(error, httpx.TimeoutException):
        return ExternalSystemUnavailable(f"{where}: timed out ({type(error).__name__})")
    return ExternalSystemUnavailable(f"{where}: {type(error).__name__}: {error}")


def raise_for_status(where: str, response: httpx.Response, *,
                     detail: Callable[[httpx.Response], str],
                     not_found: type[ExternalSystemRejected],
                     expect_json: bool = True) -> None:
    """Raise what ``response`` means unless it is a success (with JSON if ``expect_json``);
    ``detail`` tells the backend's reason for an error, as a dead letter will show it."""
    status = response.status_code
    if status >= 500 or status in RETRIED_STATUSES:
        raise ExternalSystemUnavailable(f"{where}: HTTP {status} {detail(response)}")
    if status == 404:
        raise not_found(f"{where}: HTTP 404 {detail(response)}")
    if status >= 400:
        raise ExternalSystemRejected(f"{where}: HTTP {status} {detail(response)}")
    if expect_json and "json" not in response.headers.get("Content-Type", ""):
        raise ExternalSystemUnavailable(f"{where}: HTTP {status} without JSON")
