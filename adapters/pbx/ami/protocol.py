"""The AMI wire format: a tolerant, incremental parser and the encoding of actions.

Pure: bytes go in, :class:`AmiMessage` objects come out; nothing here does I/O.
What a real Asterisk (or a sloppy AMI-speaking PBX) may send, and what happens:

========================================  ============================================
CRLF or bare LF line endings              both accepted, also mixed
the banner line (``Asterisk Call Manager/7.0.3``)  kept as :attr:`AmiParser.banner`
unknown event types                       passed through like any other event
a key repeated in a block                 every value kept (:meth:`AmiMessage.get_all`)
``Key:value`` (no space)                  accepted
a line without any colon                  logged and skipped; the block survives
a value containing ``: ``                 split on the first separator only
``Key: `` (empty value)                   the empty string
a value longer than ``max_value_chars``   cut, with a warning
a line that is not UTF-8                  decoded as cp1251 (Russian PBXs), counted
a block with neither Event nor Response   logged and skipped
========================================  ============================================

Nothing a peer sends can raise out of :meth:`AmiParser.feed`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["AmiMessage", "AmiParser", "ParserStats", "encode_action", "parse_timestamp"]

log = logging.getLogger(__name__)

MessageKind = Literal["event", "response", "action"]
_KIND_OF: dict[str, MessageKind] = {"event": "event", "response": "response", "action": "action"}
_TOKEN = re.compile(r"^[A-Za-z0-9_\-]+$")


class AmiMessage:
    """One AMI block: ``Key: Value`` headers in order; keys looked up case-insensitively."""

    __slots__ = ("_index", "headers", "kind", "name")

    def __init__(self, headers: Sequence[tuple[str, str]]) -> None:
        self.headers: tuple[tuple[str, str], ...] = tuple(headers)
        lowered = [(key.lower(), value) for key, value in self.headers]
        index = dict(reversed(lowered))  # a repeated key: its first value wins
        self._index = index
        first = lowered[0][0] if lowered else ""
        kind = _KIND_OF.get(first) or next((_KIND_OF[k] for k in _KIND_OF if k in index), None)
        if kind is None:
            raise ValueError("block has neither Event, Response nor Action")
        self.kind: MessageKind = kind
        self.name: str = index[kind]

    def get(self, key: str, default: str | None = None) -> str | None:
        """The first value of ``key`` (any case), or ``default``."""
        return self._index.get(key.lower(), default)

    def get_all(self, key: str) -> list[str]:
        """Every value of ``key`` in order (keys may repeat, e.g. ``Variable``)."""
        wanted = key.lower()
        return [value for name, value in self.headers if name.lower() == wanted]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._index

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    @property
    def timestamp_us(self) -> int | None:
        """``Timestamp`` (``timestampevents = yes``) in integer microseconds since the epoch."""
        return parse_timestamp(self.get("Timestamp"))

    def to_dict(self) -> dict[str, str | list[str]]:
        """Headers as a dict; a repeated key maps to the list of its values."""
        out: dict[str, str | list[str]] = {}
        for key, value in self.headers:
            if key in out:
                previous = out[key]
                out[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
            else:
                out[key] = value
        return out

    def __repr__(self) -> str:
        return f"AmiMessage({self.kind}={self.name!r}, {len(self.headers)} headers)"


def parse_timestamp(value: str | None) -> int | None:
    """``1710224107.000715`` -> microseconds; ``None`` when absent or not a number."""
    if not value:
        return None
    seconds, _, fraction = value.strip().partition(".")
    if not seconds.isdigit() or (fraction and not fraction.isdigit()):
        return None
    return int(seconds) * 1_000_000 + int((fraction + "000000")[:6])


@dataclass(slots=True)
class ParserStats:
    """What the parser saw, oddities included (the fixtures' ``stream`` section)."""

    events: int = 0
    responses: int = 0
    actions: int = 0
    lines_without_separator: int = 0
    non_utf8_lines: int = 0
    truncated_values: int = 0
    bad_blocks: int = 0
    skipped_events: int = 0
    """Events of types the reader does not use (``keep_events``), dropped unparsed."""


class AmiParser:
    """Feed it bytes as they arrive; it returns the complete messages among them."""

    def __init__(self, *, expect_banner: bool = True, max_value_chars: int = 64 * 1024,
                 max_block_lines: int = 4096, keep_events: Iterable[str] | None = None
                 ) -> None:
        self.banner: str | None = None
        self.stats = ParserStats()
        self._expect_banner = expect_banner
        self._max_value = max_value_chars
        self._max_line = max_value_chars * 4 + 1024  # bytes; cp1251/UTF-8 headroom
        self._max_block_lines = max_block_lines
        self._keep = (None if keep_events is None
                      else frozenset(name.lower().encode() for name in keep_events))
        self._buffer = bytearray()
        self._overflow: bytes | None = None  # head of a line too long to keep whole
        self._headers: list[tuple[str, str]] = []
        self._skipping_block = False

    def feed(self, data: bytes) -> list[AmiMessage]:
        """Whole blocks are taken at once (one decode, one split); a block in progress,
        the banner, an over-long line and anything unusual go line by line."""
        out: list[AmiMessage] = []
        buffer = self._buffer
        buffer += data
        start = 0
        while True:
            if not (self._headers or self._skipping_block or self._expect_banner
                    or self._overflow is not None):
                if buffer.startswith(b"\n", start) or buffer.startswith(b"\r\n", start):
                    start = buffer.index(b"\n", start) + 1  # an empty line between blocks
                    continue
                end, after = _block_end(buffer, start)
                if end >= 0:
                    self._block(bytes(buffer[start:end]), out)
                    start = after
                    continue
                if len(buffer) - start <= self._max_line:
                    break  # the rest of the block is still on its way
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            line = bytes(buffer[start:end])
            start = end + 1
            if self._overflow is not None:
                line, self._overflow = self._overflow, None
            self._safely(line, out)
        del buffer[:start]
        if len(buffer) > self._max_line:  # only a line in progress is left: it is too long
            if self._overflow is None:
                self._overflow = bytes(buffer[: self._max_line])
            buffer.clear()
        return out

    def flush(self) -> list[AmiMessage]:
        """At the end of the stream: the last block even without its empty line."""
        out: list[AmiMessage] = []
        if self._overflow is not None:
            line, self._overflow = self._overflow, None
            self._buffer.clear()
            self._safely(line, out)
        else:
            *lines, partial = bytes(self._buffer).split(b"\n")
            self._buffer.clear()
            for line in lines:
                self._safely(line, out)
            if partial:
                self._safely(partial, out)
        self._safely(b"", out)
        return out

    # -- whole blocks -----------------------------------------------------------

    def _block(self, chunk: bytes, out: list[AmiMessage]) -> None:
        """``chunk``: a block's lines, each with its line end, without the empty line."""
        if self._keep is not None and chunk.startswith(b"Event: ") and self._unwanted(chunk):
            self.stats.skipped_events += 1
            return
        headers = self._fast_headers(chunk)
        if headers is None:  # something unusual: exactly as line by line
            for line in chunk.split(b"\n")[:-1]:
                self._safely(line, out)
            self._safely(b"", out)
            return
        self._headers = headers
        self._safely(b"", out)

    def _unwanted(self, chunk: bytes) -> bool:
        """An event nobody here reads (not an action's reply: those carry an ActionID)."""
        assert self._keep is not None
        name = chunk[7:chunk.find(b"\n")].strip().lower()
        return name not in self._keep and b"actionid" not in chunk.lower()

    def _fast_headers(self, chunk: bytes) -> list[tuple[str, str]] | None:
        """The block's ``Key: Value`` pairs, or None when any line needs the careful path."""
        if len(chunk) > self._max_value:
            return None
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError:
            return None
        lines = text.replace("\r\n", "\n").split("\n")
        lines.pop()  # after the last line end
        if len(lines) > self._max_block_lines:
            return None
        headers: list[tuple[str, str]] = []
        for line in lines:
            key, sep, value = line.partition(": ")
            key = key.strip()
            if not (sep and key):
                return None
            headers.append((key, value))
        return headers

    # -- lines and blocks -------------------------------------------------------

    def _safely(self, line: bytes, out: list[AmiMessage]) -> None:
        try:
            self._line(line, out)
        except Exception:  # a peer must never be able to stop the stream
            log.exception("AMI line could not be parsed and is skipped: %r", line[:80])
            self._headers.clear()

    def _line(self, raw: bytes, out: list[AmiMessage]) -> None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if self._expect_banner:
            self._expect_banner = False
            if raw and b":" not in raw.split(b"/", 1)[0]:
                self.banner = raw.decode("utf-8", "replace").strip()
                return
        if not raw.strip():
            self._end_block(out)
            return
        if self._skipping_block:
            return
        if len(self._headers) >= self._max_block_lines:
            log.warning("AMI block over %d lines is skipped", self._max_block_lines)
            self.stats.bad_blocks += 1
            self._headers.clear()
            self._skipping_block = True
            return
        text = self._decode(raw)
        key, value = _split(text)
        if key is None:
            self.stats.lines_without_separator += 1
            log.warning("AMI line without a 'Key: Value' separator skipped: %r", text[:80])
            return
        if len(value) > self._max_value:
            self.stats.truncated_values += 1
            log.warning("AMI value of %s (%d characters) cut to %d", key, len(value),
                        self._max_value)
            value = value[: self._max_value]
        self._headers.append((key, value))

    def _end_block(self, out: list[AmiMessage]) -> None:
        self._skipping_block = False
        if not self._headers:
            return
        headers, self._headers = self._headers, []
        try:
            message = AmiMessage(headers)
        except ValueError:
            self.stats.bad_blocks += 1
            log.warning("AMI block without Event or Response skipped: %r", headers[:3])
            return
        if message.kind == "event":
            self.stats.events += 1
        elif message.kind == "response":
            self.stats.responses += 1
        else:
            self.stats.actions += 1
        out.append(message)

    def _decode(self, raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
        for cut in (1, 2, 3) if len(raw) >= self._max_line - 1 else ():
            try:  # a line cut at the limit may end inside a multi-byte character
                return raw[:-cut].decode("utf-8")
            except UnicodeDecodeError:
                continue
        self.stats.non_utf8_lines += 1
        log.warning("AMI line is not UTF-8; decoded as cp1251: %r", raw[:80])
        return raw.decode("cp1251", "replace")


def _block_end(buffer: bytearray, start: int) -> tuple[int, int]:
    """(end of the block's last line, end of the empty line after it), or (-1, -1)."""
    crlf = buffer.find(b"\n\r\n", start)
    bare = buffer.find(b"\n\n", start, crlf + 2 if crlf >= 0 else len(buffer))
    if bare >= 0:
        return bare + 1, bare + 2
    if crlf >= 0:
        return crlf + 1, crlf + 3
    return -1, -1


def _split(text: str) -> tuple[str | None, str]:
    key, sep, value = text.partition(": ")
    if sep and key.strip():
        return key.strip(), value
    key, sep, value = text.partition(":")
    if sep and _TOKEN.match(key.strip()):
        return key.strip(), value[1:] if value.startswith(" ") else value
    return None, ""


Fields = Mapping[str, str | Iterable[str]] | Iterable[tuple[str, str]]


def encode_action(name: str, action_id: str, fields: Fields | None = None) -> bytes:
    """One action block; a field with several values (``Variable``) repeats its key."""
    lines = [f"Action: {_clean(name)}", f"ActionID: {_clean(action_id)}"]
    pairs: Iterable[tuple[str, str | Iterable[str]]]
    if fields is None:
        pairs = ()
    elif isinstance(fields, Mapping):
        pairs = fields.items()
    else:
        pairs = fields
    for key, value in pairs:
        values = [value] if isinstance(value, str) else list(value)
        lines.extend(f"{_clean(key)}: {_clean(v)}" for v in values)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def _clean(value: str) -> str:
    """No CR/LF inside a value: a value must never start a header of its own."""
    return value.replace("\r", " ").replace("\n", " ")
