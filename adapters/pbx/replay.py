"""Replay a captured AMI transcript without a network.

The bytes go through the same parser and the same pipeline as live traffic, so what
``replay`` prints is what the adapter would have published::

    esb pbx replay site-capture.ami        # one JSON object per line: type + payload
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from adapters.pbx.ami.protocol import AmiParser
from adapters.pbx.mapping import DEFAULT_EXTENSION_PATTERN
from adapters.pbx.pipeline import Pipeline

__all__ = ["replay", "replay_bytes"]

CHUNK = 64 * 1024


def replay(path: str | Path, *, extension_pattern: str = DEFAULT_EXTENSION_PATTERN,
           call_timeout: float = 4 * 3600.0, region: str = "RU") -> list[dict[str, Any]]:
    """The canonical events (``{"type", "payload"}``) a transcript file gives."""
    return list(replay_bytes(Path(path).read_bytes(), extension_pattern=extension_pattern,
                             call_timeout=call_timeout, region=region))


def replay_bytes(data: bytes, *, extension_pattern: str = DEFAULT_EXTENSION_PATTERN,
                 call_timeout: float = 4 * 3600.0, region: str = "RU"
                 ) -> Iterator[dict[str, Any]]:
    parser = AmiParser(expect_banner=True)
    pipeline = Pipeline(extension_pattern=extension_pattern, call_timeout=call_timeout,
                        region=region)
    for start in range(0, len(data), CHUNK):  # incremental, as from a socket
        for event in pipeline.feed(parser.feed(data[start:start + CHUNK])):
            yield event.to_dict()
    for event in pipeline.feed(parser.flush()):
        yield event.to_dict()
