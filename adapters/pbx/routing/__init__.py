"""Call routing: "who takes this call?" answered from local state, by explainable rules.

See docs/call-routing.md. :class:`RoutingService` holds the state and decides;
:data:`handlers.router` puts it on the bus (request-reply and state events);
:func:`api.routing_api` serves the dialplan over HTTP.
"""

from adapters.pbx.routing.decision import Decision, RouteRequest
from adapters.pbx.routing.service import RoutingService
from adapters.pbx.routing.settings import RoutingSettings, WorkingCalendar

__all__ = ["Decision", "RouteRequest", "RoutingService", "RoutingSettings", "WorkingCalendar"]
