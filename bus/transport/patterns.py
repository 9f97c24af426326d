"""AMQP topic patterns: ``*`` matches one word, ``#`` zero or more words."""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["topic_matches"]


@lru_cache(maxsize=4096)
def _compile(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    for word in pattern.split("."):
        if word == "#":
            parts.append(r"(?:[^.]+(?:\.[^.]+)*)?")
        elif word == "*":
            parts.append(r"[^.]+")
        else:
            parts.append(re.escape(word))
    regex = r"\.".join(parts)
    # "#" may swallow its neighbouring dots when it matches zero words.
    regex = regex.replace(r"\.(?:[^.]+(?:\.[^.]+)*)?", r"(?:\.[^.]+)*")
    regex = regex.replace(r"(?:[^.]+(?:\.[^.]+)*)?\.", r"(?:[^.]+\.)*")
    return re.compile(f"^{regex}$")


def topic_matches(pattern: str, routing_key: str) -> bool:
    return _compile(pattern).match(routing_key) is not None
