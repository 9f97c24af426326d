"""PII masking: passports and INNs never reach a log line or the journal unmasked."""

from __future__ import annotations

import io
import logging
import random
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bus.masking import (
    PayloadMask,
    PiiMaskingFilter,
    install_log_masking,
    mask_payload,
    mask_phone,
    mask_text,
    uninstall_log_masking,
)

# -- generators -------------------------------------------------------------------------


def passport_spellings(series: str, number: str) -> list[str]:
    return [
        f"{series} {number}",
        f"{series[:2]} {series[2:]} {number}",
        f"{series}{number}",
        f"{series}-{number}",
        f"{series} №{number}",
        f"{series} № {number}",
        f"серия {series} номер {number}",
        f"серия {series[:2]} {series[2:]} № {number}",
        f"passport series {series} number {number}",
    ]


digits = st.text(alphabet="0123456789", min_size=1, max_size=1)
series_st = st.text(alphabet="0123456789", min_size=4, max_size=4)
number_st = st.text(alphabet="0123456789", min_size=6, max_size=6)
inn_st = st.one_of(
    st.text(alphabet="0123456789", min_size=10, max_size=10),
    st.text(alphabet="0123456789", min_size=12, max_size=12),
)
# Sentences around the secret: punctuation and words but no digits or latin letters glued to it.
context_st = st.sampled_from([
    "ИНН {}", "inn={}", "клиент {} обратился", "паспорт: {}", "customer passport {}.",
    "ошибка для {}, повторите", "{}", "[{}]", "\"{}\"", "документ ({}) принят",
])


def assert_hidden(secret_digits: str, text: str) -> None:
    """Neither the value nor its digits in a row may appear in the masked text."""
    compact = "".join(ch for ch in text if ch.isdigit() or ch == "*")
    assert secret_digits not in compact, text
    assert secret_digits not in text, text


# -- examples from the requirements ------------------------------------------------------


def test_inn_keeps_two_digits_at_each_end() -> None:
    assert mask_payload({"inn": "7701234567"}) == {"inn": "77******67"}
    assert mask_payload({"inn": 7701234567}) == {"inn": "77******67"}


def test_passport_keeps_its_spacing_and_a_hint() -> None:
    assert mask_payload({"passport": "4509 123456"}) == {"passport": "45** ****56"}


def test_phone_is_masked_only_when_enabled() -> None:
    payload = {"caller": "+79161234567", "inn": "7701234567"}
    assert mask_payload(payload)["caller"] == "+79161234567"
    assert mask_payload(payload, mask_phones=True)["caller"] == "+7916***4567"
    assert mask_phone("+7 (916) 123-45-67") == "+7 (916) ***-45-67"


def test_keys_match_at_any_depth_in_any_spelling_and_the_input_is_not_changed() -> None:
    payload = {
        "customer": {
            "passportNumber": "123456",
            "documents": [{"PASSPORT_SERIES": "4509"}, {"client-inn": "500100732259"}],
            "dinner": "12345678901",
        },
        "passport": {"series": "4509", "number": "123456"},
    }
    masked = mask_payload(payload)
    assert masked["customer"]["passportNumber"] == "1****6"
    assert masked["customer"]["documents"][0]["PASSPORT_SERIES"] == "****"
    assert masked["customer"]["documents"][1]["client-inn"] == "50********59"
    assert masked["customer"]["dinner"] == "12345678901"
    assert masked["passport"] == {"series": "****", "number": "1****6"}
    assert payload["passport"] == {"series": "4509", "number": "123456"}


def test_free_text_examples() -> None:
    text = "ИНН 7701234567, паспорт 4509 123456, серия 45 09 номер 123456, ИНН ФЛ 500100732259"
    assert mask_text(text) == (
        "ИНН 77******67, паспорт 45** ****56, серия 45 ** номер ****56, ИНН ФЛ 50********59"
    )


def test_free_text_without_pii_is_left_alone() -> None:
    text = (
        "message 0193f2c4-8a1b-7c3d-9e4f-1234567890ab of type billing.payment.received.v1 "
        "amount 1500.00 at 2024-01-15T10:00:00+03:00 took 3.1415926535 s, attempt 3"
    )
    assert mask_text(text) == text


def test_scan_text_masks_free_text_inside_payloads() -> None:
    payload = {"comment": "клиент дал паспорт 4509 123456"}
    assert mask_payload(payload) == payload
    assert mask_payload(payload, scan_text=True) == {"comment": "клиент дал паспорт 45** ****56"}


# -- generated values never leak ------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(series=series_st, number=number_st, context=context_st, phones=st.booleans())
def test_generated_passports_never_appear_unmasked_in_text(
    series: str, number: str, context: str, phones: bool
) -> None:
    for spelling in passport_spellings(series, number):
        masked = mask_text(context.format(spelling), mask_phones=phones)
        assert_hidden(series + number, masked)
        assert number not in masked, masked


@settings(max_examples=300, deadline=None)
@given(inn=inn_st, context=context_st)
def test_generated_inns_never_appear_unmasked_in_text(inn: str, context: str) -> None:
    masked = mask_text(context.format(inn))
    assert_hidden(inn, masked)


@settings(max_examples=200, deadline=None)
@given(
    inn=inn_st,
    series=series_st,
    number=number_st,
    depth=st.integers(min_value=0, max_value=4),
    as_int=st.booleans(),
)
def test_generated_pii_never_appears_unmasked_in_payloads(
    inn: str, series: str, number: str, depth: int, as_int: bool
) -> None:
    leaf: dict[str, object] = {
        "inn": int(inn) if as_int and inn[0] != "0" else inn,
        "passport": f"{series} {number}",
        "passport_series": series,
        "passport_number": number,
        "name": "Иванов",
    }
    payload: object = leaf
    for level in range(depth):
        payload = {f"level{level}": [payload]}
    text = repr(mask_payload(payload))
    assert_hidden(inn, text)
    assert_hidden(series + number, text)
    assert number not in text
    assert "Иванов" in text


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
payload_keys = st.sampled_from(
    ["name", "inn", "clientInn", "dinner", "passportNumber", "caller", "msisdn", "id", "note"])
payloads = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(payload_keys, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(payload=payloads, phones=st.booleans())
def test_a_payload_said_to_need_no_masking_is_left_as_it_is(payload: object,
                                                             phones: bool) -> None:
    mask = PayloadMask(mask_phones=phones)
    expected = mask_payload(payload, mask_phones=phones)
    assert mask(payload) == expected
    if not mask.needed(payload):
        assert expected == payload


def test_payload_mask_finds_pii_at_any_depth_and_leaves_plain_payloads_alone() -> None:
    from types import MappingProxyType

    mask = PayloadMask()
    assert not mask.needed({"n": "1", "padding": "x" * 900, "dinner": {"at": [1, 2]}})
    assert mask.needed({"a": [{"b": {"clientInn": "7701234567"}}]})
    assert not mask.needed({"caller": "+79161234567"})
    assert PayloadMask(mask_phones=True).needed({"caller": "+79161234567"})
    assert mask.needed({"a": MappingProxyType({"b": 1})})  # copied to a dict by masking


# -- logging -------------------------------------------------------------------------------


@pytest.fixture
def root_stream() -> Iterator[io.StringIO]:
    """A handler on the root logger, as an application would configure it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        uninstall_log_masking()
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_generated_passports_and_inns_never_reach_a_log_line(root_stream: io.StringIO) -> None:
    install_log_masking()
    log = logging.getLogger("adapters.crm.handlers")
    rng = random.Random(20240115)
    secrets: list[str] = []
    for _ in range(200):
        series = f"{rng.randrange(10_000):04d}"
        number = f"{rng.randrange(1_000_000):06d}"
        inn = "".join(rng.choice("0123456789") for _ in range(rng.choice((10, 12))))
        spelling = rng.choice(passport_spellings(series, number))
        secrets += [series + number, inn]
        log.info("customer %s with passport %s updated", inn, spelling)
        log.warning(f"lookup failed for ИНН {inn}; passport {spelling}")
        log.info("payload %r", {"inn": inn, "passport": spelling})
    output = root_stream.getvalue()
    assert output.count("\n") == 600
    for secret in secrets:
        assert_hidden(secret, output)


def test_exception_text_in_a_log_line_is_masked(root_stream: io.StringIO) -> None:
    install_log_masking()
    try:
        raise ValueError("customer with INN 7701234567 not found")
    except ValueError:
        logging.getLogger("bus.delivery").exception("handler failed")
    output = root_stream.getvalue()
    assert "7701234567" not in output
    assert "77******67" in output
    assert "Traceback" in output


def test_phones_in_log_lines_are_masked_when_configured(root_stream: io.StringIO) -> None:
    install_log_masking(mask_phones=True)
    logging.getLogger("adapters.pbx").info("call from %s to %s", "+79161234567", "8 916 765-43-21")
    output = root_stream.getvalue()
    assert "+7916***4567" in output
    assert "8 916 ***-43-21" in output


def test_installing_twice_puts_one_filter_per_handler(root_stream: io.StringIO) -> None:
    install_log_masking()
    install_log_masking()
    for handler in logging.getLogger().handlers:
        assert sum(isinstance(f, PiiMaskingFilter) for f in handler.filters) == 1
    uninstall_log_masking()
    for handler in logging.getLogger().handlers:
        assert not any(isinstance(f, PiiMaskingFilter) for f in handler.filters)
