"""The cyclic garbage collector paused for a bulk step.

A full run allocates millions of long-lived objects (records, blocks, edges,
links) that hold no reference cycles. Each of the collector's passes walks the
young objects again, and its full passes every tracked object, so at a million
records they cost a third of the run's CPU and free nothing.
:func:`collector_paused` turns it off for such a step. On the way out the
objects made meanwhile join the permanent generation (:func:`gc.freeze`) before
the collector is back on: otherwise its first passes would walk every one of
them (seconds at 100k records) to find nothing. Reference counting still frees
them as usual; only a reference cycle made inside the step outlives it (our
code makes none; a library's few stay until :func:`gc.unfreeze`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic collection inside the block (nested blocks are fine)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.enable()
