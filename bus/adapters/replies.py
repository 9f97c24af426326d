"""The ``error`` of a reply when the adapter's system failed to answer a request.

Responders reply rather than raise, so a caller of ``bus.request`` gets an
answer, not a timeout: an empty result and an ``error`` whose ``code`` says
what to do, ``unavailable`` (the system is down or slow: ask again later) or
``rejected`` (the system refused the question: asking again will not help).
"""

from __future__ import annotations

from bus.errors import ExternalSystemRejected, ExternalSystemUnavailable

__all__ = ["MESSAGE_LIMIT", "failure"]

MESSAGE_LIMIT = 256
"""Characters of the error kept in a reply: the schemas make its message a ``short_text``."""


def failure(error: ExternalSystemUnavailable | ExternalSystemRejected) -> dict[str, str]:
    """The reply's ``error`` for ``error``: its code and its message."""
    code = "unavailable" if isinstance(error, ExternalSystemUnavailable) else "rejected"
    return {"code": code, "message": str(error)[:MESSAGE_LIMIT]}
