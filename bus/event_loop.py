"""The event loop a bus process runs on: uvloop where it can be imported, else asyncio's.

Everything of a bus process — the transports' consumers, every handler, the window's
scatter-gather, the PBX sockets and the HTTP API — shares one loop, so the loop's own
cost per callback, per socket read and per timer is paid on every hop. uvloop (libuv
under the same ``asyncio`` API) pays less of it; ``ESB_EVENT_LOOP=asyncio`` keeps the
standard library's loop. Where uvloop is not built (Windows, PyPy) asyncio's is used
whatever the setting.

The two differ where code leans on asyncio's leniency: a write to a transport already
closed raises ``RuntimeError`` on uvloop, where asyncio drops it and fails the next
``drain()`` (the AMI client checks ``is_closing()`` first); and uvloop's timers count in
whole milliseconds. ``ESB_TEST_LOOP=uvloop`` runs the test suite on it (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

__all__ = ["EventLoopName", "event_loop_named", "loop_factory", "loop_name", "run_on"]

EventLoopName = Literal["uvloop", "asyncio"]
_NAMES: dict[str, EventLoopName] = {"uvloop": "uvloop", "asyncio": "asyncio"}

T = TypeVar("T")


def event_loop_named(name: str) -> EventLoopName:
    """``name`` (from a command line or a test switch) as a loop's name; ValueError if unknown."""
    try:
        return _NAMES[name]
    except KeyError:
        raise ValueError(f"unknown event loop {name!r}: uvloop or asyncio") from None


def loop_factory(name: EventLoopName) -> Callable[[], asyncio.AbstractEventLoop]:
    """What makes the loop ``name`` names: uvloop's only when asked for and importable."""
    if name == "uvloop":
        try:
            import uvloop
        except ImportError:  # not built for this platform: the standard loop does the same
            return asyncio.new_event_loop
        return uvloop.new_event_loop
    return asyncio.new_event_loop


def run_on(name: EventLoopName, main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the loop ``name`` names (Python 3.11's ``asyncio.run``
    takes no factory; its ``Runner`` does, with the same Ctrl+C handling)."""
    with asyncio.Runner(loop_factory=loop_factory(name)) as runner:
        return runner.run(main)


def loop_name(loop: asyncio.AbstractEventLoop | None = None) -> EventLoopName:
    """Which loop ``loop`` (by default the running one) is: what a process reports it
    really runs on, after any fallback."""
    running = loop if loop is not None else asyncio.get_running_loop()
    return "uvloop" if type(running).__module__.startswith("uvloop") else "asyncio"
