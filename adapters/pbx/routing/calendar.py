"""Is the company open at this instant? Weekly hours in its timezone, holidays, moved workdays.

Pure: no clock is read here; the caller passes the instant.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from adapters.pbx.routing.settings import WEEKDAYS, WorkingCalendar, parse_interval

__all__ = ["opening_state"]


def opening_state(calendar: WorkingCalendar, at: dt.datetime) -> tuple[bool, str]:
    """(open, why) at the aware instant ``at``, in the calendar's own timezone."""
    local = at.astimezone(ZoneInfo(calendar.timezone))
    day = local.date()
    when = f"{local:%a %Y-%m-%d %H:%M} {calendar.timezone}"
    if day in calendar.holidays:
        return False, f"{when} is a holiday"
    weekday = WEEKDAYS[local.weekday()]
    intervals = calendar.hours.get(weekday, [])
    if day in calendar.workdays:
        intervals = calendar.hours.get("mon", [])
    if not intervals:
        return False, f"{when}: closed on {weekday}"
    now = local.time()
    for interval in intervals:
        opens, closes = parse_interval(interval)
        if opens <= now < closes or (closes == dt.time.max and now >= opens):
            return True, f"{when} within {interval}"
    return False, f"{when} outside {', '.join(intervals)}"
