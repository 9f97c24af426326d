"""The AMI parser tolerates what real PBXs send; nothing a peer sends can stop it."""

from __future__ import annotations

import itertools
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.pbx.ami.protocol import AmiMessage, AmiParser, encode_action, parse_timestamp

BANNER = b"Asterisk Call Manager/7.0.3\r\n"
LOGIN_REPLY = b"Response: Success\r\nActionID: login-1\r\nMessage: Authentication accepted\r\n\r\n"
EVENT = (b"Event: Newchannel\r\nPrivilege: call,all\r\nTimestamp: 1710224107.000715\r\n"
         b"Channel: PJSIP/trunk-0000001a\r\nCallerIDNum: +79123456789\r\nUniqueid: 1.1\r\n"
         b"Linkedid: 1.1\r\n\r\n")


def parse(data: bytes, *, expect_banner: bool = True,
          max_value_chars: int = 64 * 1024) -> tuple[AmiParser, list[AmiMessage]]:
    parser = AmiParser(expect_banner=expect_banner, max_value_chars=max_value_chars)
    messages = parser.feed(data)
    return parser, messages + parser.flush()


def test_banner_reply_and_event_are_told_apart() -> None:
    parser, messages = parse(BANNER + LOGIN_REPLY + EVENT)
    assert parser.banner == "Asterisk Call Manager/7.0.3"
    reply, event = messages
    assert (reply.kind, reply.name, reply.action_id) == ("response", "Success", "login-1")
    assert (event.kind, event.name) == ("event", "Newchannel")
    assert event.timestamp_us == 1710224107_000715
    assert parser.stats.events == 1 and parser.stats.responses == 1


def test_a_stream_without_banner_starts_with_its_first_block() -> None:
    parser, messages = parse(LOGIN_REPLY + EVENT)
    assert parser.banner is None
    assert [m.name for m in messages] == ["Success", "Newchannel"]


def test_bare_lf_and_mixed_line_endings_parse_like_crlf() -> None:
    crlf = parse(BANNER + LOGIN_REPLY + EVENT)[1]
    lf = parse((BANNER + LOGIN_REPLY + EVENT).replace(b"\r\n", b"\n"))[1]
    mixed_data = (BANNER + LOGIN_REPLY).replace(b"\r\n", b"\n") + EVENT
    mixed = parse(mixed_data)[1]
    assert [m.headers for m in lf] == [m.headers for m in crlf] == [m.headers for m in mixed]


def test_unknown_event_types_pass_through() -> None:
    [message] = parse(b"Event: SomethingNew2031\r\nFoo: bar\r\n\r\n", expect_banner=False)[1]
    assert (message.kind, message.name, message.get("foo")) == ("event", "SomethingNew2031", "bar")


def test_repeated_keys_keep_every_value() -> None:
    data = b"Event: VarSet\r\nVariable: A=1\r\nvariable: B=2\r\nVariable: C=3\r\n\r\n"
    [message] = parse(data)[1]
    assert message.get("Variable") == "A=1"
    assert message.get_all("VARIABLE") == ["A=1", "B=2", "C=3"]
    assert message.to_dict()["Variable"] == ["A=1", "C=3"]
    assert message.to_dict()["variable"] == "B=2"


def test_line_without_colon_is_logged_and_skipped_but_the_block_survives(
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = b"Event: Hangup\r\nthis line has no separator\r\nCause: 16\r\n\r\n"
    with caplog.at_level(logging.WARNING):
        parser, [message] = parse(data)
    assert message.get("Cause") == "16"
    assert parser.stats.lines_without_separator == 1
    assert "without a 'Key: Value' separator" in caplog.text


def test_colon_without_space_is_accepted() -> None:
    [message] = parse(b"Event: Hangup\r\nCause:16\r\nCause-txt:Normal\r\n\r\n")[1]
    assert (message.get("Cause"), message.get("Cause-txt")) == ("16", "Normal")


def test_value_containing_the_separator_is_split_on_the_first_only() -> None:
    [message] = parse(b"Event: Newexten\r\nAppData: __FROM: x: y\r\n\r\n")[1]
    assert message.get("AppData") == "__FROM: x: y"


def test_empty_values_are_empty_strings() -> None:
    [message] = parse(b"Event: Newchannel\r\nAccountCode: \r\nLanguage:\r\n\r\n")[1]
    assert message.get("AccountCode") == "" and message.get("Language") == ""


def test_long_values_are_cut_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    data = b"Event: UserEvent\r\nData: " + b"x" * 5000 + b"\r\nNext: 1\r\n\r\n"
    with caplog.at_level(logging.WARNING):
        parser, [message] = parse(data, max_value_chars=1000)
    assert message.get("Data") == "x" * 1000
    assert message.get("Next") == "1"
    assert parser.stats.truncated_values == 1
    assert "cut to 1000" in caplog.text


def test_a_line_that_never_ends_does_not_grow_memory() -> None:
    parser = AmiParser(expect_banner=False, max_value_chars=256)
    parser.feed(b"Event: UserEvent\r\nData: ")
    for _ in range(200):
        parser.feed(b"y" * 10_000)
        assert len(parser._buffer) < 3000
    [message] = parser.feed(b"\r\nNext: 1\r\n\r\n")
    assert message.get("Data") == "y" * 256
    assert message.get("Next") == "1"


def test_undecodable_bytes_fall_back_to_cp1251() -> None:
    reason = "Обед".encode("cp1251")
    data = b"Event: QueueMemberPause\r\nPausedReason: " + reason + b"\r\nPaused: 1\r\n\r\n"
    parser, [message] = parse(data)
    assert message.get("PausedReason") == "Обед"
    assert parser.stats.non_utf8_lines == 1


def test_utf8_values_stay_utf8() -> None:
    data = "Event: QueueMemberPause\r\nPausedReason: Обучение\r\n\r\n".encode()
    parser, [message] = parse(data)
    assert message.get("PausedReason") == "Обучение"
    assert parser.stats.non_utf8_lines == 0


def test_a_block_without_event_or_response_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    data = b"Foo: bar\r\nBaz: 1\r\n\r\n" + EVENT
    with caplog.at_level(logging.WARNING):
        parser, messages = parse(data)
    assert [m.name for m in messages] == ["Newchannel"]
    assert parser.stats.bad_blocks == 1
    assert "without Event or Response" in caplog.text


def test_event_with_a_response_header_is_an_event() -> None:
    data = (b"Event: OriginateResponse\r\nActionID: originate-1\r\nResponse: Failure\r\n"
            b"Reason: 3\r\n\r\n")
    [message] = parse(data)[1]
    assert (message.kind, message.name, message.get("Response")) == (
        "event", "OriginateResponse", "Failure")


def test_last_block_without_its_empty_line_is_returned_by_flush() -> None:
    parser = AmiParser(expect_banner=False)
    assert parser.feed(b"Event: Hangup\r\nCause: 16") == []
    [message] = parser.flush()
    assert message.get("Cause") == "16"


def test_blank_lines_between_blocks_are_harmless() -> None:
    messages = parse(b"\r\n\r\n" + EVENT + b"\r\n\r\n\r\n" + EVENT)[1]
    assert len(messages) == 2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(BANNER + LOGIN_REPLY + EVENT) - 1),
                max_size=8))
def test_any_chunking_gives_the_same_messages(cuts: list[int]) -> None:
    data = BANNER + LOGIN_REPLY + EVENT + EVENT
    whole = [m.headers for m in parse(data)[1]]
    parser = AmiParser()
    out: list[AmiMessage] = []
    edges = [0, *sorted(set(cuts)), len(data)]
    for start, end in itertools.pairwise(edges):
        out += parser.feed(data[start:end])
    out += parser.flush()
    assert [m.headers for m in out] == whole


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_raise(garbage: bytes) -> None:
    parser = AmiParser(max_value_chars=256)
    parser.feed(garbage)
    parser.feed(EVENT)
    parser.flush()


def test_parse_timestamp() -> None:
    assert parse_timestamp("1710224107.000715") == 1710224107_000715
    assert parse_timestamp("1710224107.5") == 1710224107_500000
    assert parse_timestamp("1710224107") == 1710224107_000000
    assert parse_timestamp("soon") is None
    assert parse_timestamp(None) is None


def test_encode_action_repeats_keys_and_refuses_header_injection() -> None:
    data = encode_action("Originate", "originate-1", {
        "Channel": "PJSIP/2003", "Variable": ["A=1", "B=2"],
        "CallerID": "evil\r\nAction: Command"})
    assert data == (b"Action: Originate\r\nActionID: originate-1\r\nChannel: PJSIP/2003\r\n"
                    b"Variable: A=1\r\nVariable: B=2\r\nCallerID: evil  Action: Command\r\n\r\n")
    [action] = parse(data, expect_banner=False)[1]
    assert (action.kind, action.name, action.action_id) == ("action", "Originate", "originate-1")
