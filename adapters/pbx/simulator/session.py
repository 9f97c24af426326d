"""One AMI connection to the simulator: login state, event mask and filters."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Session", "block"]

CRLF = "\r\n"


def block(*groups: Iterable[tuple[str, str]]) -> str:
    """An AMI message: ``Key: Value`` lines and the empty line that ends it."""
    return "".join(f"{k}: {v}{CRLF}" for k, v in itertools.chain(*groups)) + CRLF


@dataclass(eq=False)
class Session:
    writer: asyncio.StreamWriter
    nonce: str = ""
    logged_in: bool = False
    events: bool = True
    filters: list[tuple[bool, re.Pattern[str]]] = field(default_factory=list)

    def wants(self, text: str) -> bool:
        if not (self.logged_in and self.events):
            return False
        includes = [p for keep, p in self.filters if keep]
        if includes and not any(p.search(text) for p in includes):
            return False
        return not any(p.search(text) for keep, p in self.filters if not keep)
