"""The PBX adapter's call store: ended calls in SQL, recent calls over the bus, analytics."""

from adapters.pbx.callstore.analytics import CallAnalytics, CallFilter
from adapters.pbx.callstore.api import analytics_routes
from adapters.pbx.callstore.handlers import CALLS_REPLIED, CALLS_REQUESTED, calls_router
from adapters.pbx.callstore.store import CallStore

__all__ = ["CALLS_REPLIED", "CALLS_REQUESTED", "CallAnalytics", "CallFilter", "CallStore",
           "analytics_routes", "calls_router"]
