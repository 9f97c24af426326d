"""The AMI parser against hostile streams: random bytes, truncated blocks, huge values,
UTF-8 mixed with cp1251, bare LF and CRLF, lines without a separator."""



from __future__ import annotations

import logging

from hypothesis import given
from hypothesis import strategies as st

from adapters.pbx.ami.protocol import AmiMessage, AmiParser
from tests.fuzz.bounds import bounded, fuzz_settings, logged_errors

MAX_VALUE = 256
"""A small ``max_value_chars`` so that "huge" values are cheap to generate."""

KEYS = st.from_regex(r"[A-Za-z][A-Za-z0-9_\-]{0,15}", fullmatch=True)
CYRILLIC = st.text(alphabet="АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдеёжзийклмнопрстуфхцчшщъыьэюя ",
                   max_size=20)
VALUES = st.text(st.characters(exclude_categories=["Cs", "Cc"]), max_size=40)
ENDINGS = st.sampled_from([b"\r\n", b"\n"])


def parse(stream: bytes, cuts: list[int] | None = None) -> list[AmiMessage]:
    parser = AmiParser(expect_banner=False, max_value_chars=MAX_VALUE)
    out: list[AmiMessage] = []
    previous = 0
    for cut in sorted(cuts or []):
        out += parser.feed(stream[previous:cut])
        previous = cut
    out += parser.feed(stream[previous:])
    return out + parser.flush()


def headers(messages: list[AmiMessage]) -> list[tuple[tuple[str, str], ...]]:
    return [m.headers for m in messages]


@st.composite
def blocks(draw: st.DrawFn) -> tuple[bytes, list[list[tuple[str, str]]]]:
    """A well-formed stream (any line endings, UTF-8 or cp1251 per line) and its blocks."""
    stream = b""
    expected: list[list[tuple[str, str]]] = []
    for _ in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from(["Event", "Response", "event"]))
        pairs = [(name, draw(KEYS))]
        pairs += draw(st.lists(st.tuples(KEYS, st.one_of(VALUES, CYRILLIC)), max_size=5))
        for key, value in pairs:
            line = f"{key}: {value}"
            if set(value) <= CYRILLIC_CHARS and not value.isascii() and draw(st.booleans()) \
                    and not _is_utf8(line.encode("cp1251")):
                stream += line.encode("cp1251") + draw(ENDINGS)
            else:
                stream += line.encode("utf-8") + draw(ENDINGS)
        stream += draw(ENDINGS)
        expected.append(pairs)
    return stream, expected


def _is_utf8(data: bytes) -> bool:
    """cp1251 text that happens to be valid UTF-8 (``Рё`` is ``и``) is read as UTF-8, by
    design: such a line is ambiguous, and UTF-8 is what Asterisk sends."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


CYRILLIC_CHARS = set("АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдеёжзийклмнопрстуфхцчшщъыьэюя ")


@fuzz_settings(200)
@given(st.binary(max_size=4096), st.lists(st.integers(0, 4096), max_size=8))
def test_random_bytes_in_random_chunks_never_raise_nor_log_a_crash(
    garbage: bytes, cuts: list[int],
) -> None:
    with logged_errors("adapters.pbx.ami") as crashes:
        outcome = bounded(lambda: parse(garbage, cuts), declared=())
    assert crashes == [], [r.getMessage() for r in crashes]
    for message in outcome.value or []:
        assert message.kind in ("event", "response", "action")
        assert all(len(value) <= MAX_VALUE for _, value in message.headers)


@fuzz_settings(60)
@given(blocks(), st.lists(st.integers(0, 2000), max_size=6))
def test_every_well_formed_block_comes_out_whole_in_any_encoding_ending_and_chunking(
    stream_and_blocks: tuple[bytes, list[list[tuple[str, str]]]], cuts: list[int],
) -> None:
    stream, expected = stream_and_blocks
    messages = bounded(lambda: parse(stream, cuts), declared=()).value or []
    assert [list(m.headers) for m in messages] == expected


@fuzz_settings(100)
@given(st.integers(MAX_VALUE + 1, 50 * MAX_VALUE), st.sampled_from(["x", "Я", "€", "😀"]),
       st.lists(st.integers(0, 50 * MAX_VALUE), max_size=6))
def test_a_huge_value_is_cut_to_the_limit_and_the_next_block_still_parses(
    size: int, char: str, cuts: list[int],
) -> None:
    stream = (f"Event: Huge\r\nValue: {char * size}\r\n\r\n".encode()
              + b"Event: Next\r\nLinkedid: 1.1\r\n\r\n")
    messages = bounded(lambda: parse(stream, cuts), declared=()).value or []
    assert [m.name for m in messages] == ["Huge", "Next"]
    value = messages[0].get("Value") or ""
    assert set(value) == {char} and len(value) <= MAX_VALUE
    assert messages[1].get("Linkedid") == "1.1"


@fuzz_settings(60)
@given(blocks(), st.binary(min_size=1, max_size=300), st.integers(0, 300))
def test_a_truncated_or_broken_block_costs_only_itself(
    good: tuple[bytes, list[list[tuple[str, str]]]], junk: bytes, keep: int,
) -> None:
    """Junk (a block cut short, lines without a separator) up to a blank line, then a
    good stream: every good block is still parsed."""
    stream, expected = good
    broken = junk[:keep].replace(b"\n", b" ") + b"\r\n\r\n"
    messages = bounded(lambda: parse(broken + stream), declared=()).value or []
    names = [m.name for m in messages]
    assert names[len(names) - len(expected):] == [pairs[0][1] for pairs in expected]


@fuzz_settings(10)
@given(st.integers(4_097, 12_000), st.sampled_from([b"A", b"A: b", b"\xff"]))
def test_a_block_of_endless_lines_or_an_endless_line_stays_bounded(
    lines: int, line: bytes,
) -> None:
    """Past ``max_block_lines`` (4096) the block is skipped to its blank line. Each line
    without a separator is logged (a warning per line: see docs/hostile-input.md), so the
    logger is quietened here to measure the parser, not the log capture."""
    flood = b"Event: Flood\r\n" + (line + b"\n") * lines + b"\n" + b"Event: After\n\n"
    protocol_log = logging.getLogger("adapters.pbx.ami.protocol")
    protocol_log.disabled = True
    try:
        outcome = bounded(lambda: parse(flood), max_peak_bytes=16 * 1024 * 1024, declared=())
    finally:
        protocol_log.disabled = False
    messages = outcome.value or []
    assert [m.name for m in messages][-1:] == ["After"]
    assert all(len(m.headers) <= 4096 for m in messages)
