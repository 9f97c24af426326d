"""One E.164 rule for every adapter."""

from __future__ import annotations

import pytest

from bus.phones import call_customer_e164, to_e164


@pytest.mark.parametrize(("typed", "e164"), [
    ("8 (912) 345-67-89", "+79123456789"),
    ("+7 912 345 67 89", "+79123456789"),
    ("9123456789", "+79123456789"),
    ("+44 20 7946 0958", "+442079460958"),
])
def test_numbers_as_people_type_them_become_e164(typed: str, e164: str) -> None:
    assert to_e164(typed) == e164


@pytest.mark.parametrize("junk", ["", None, "2003", "anonymous", "12-34", "+7 abc"])
def test_extensions_withheld_ids_and_junk_are_not_numbers(junk: object) -> None:
    assert to_e164(junk) is None


def test_valid_only_refuses_a_possible_number_no_operator_was_given() -> None:
    assert to_e164("+70000000000") == "+70000000000"
    assert to_e164("+70000000000", valid_only=True) is None


INBOUND = {"direction": "inbound", "caller_number": "89123456789", "called_number": "73912001122"}
OUTBOUND = {"direction": "outbound", "caller_number": "2003", "called_number": "89123456789"}


@pytest.mark.parametrize(("call", "customer"), [
    pytest.param(INBOUND, "+79123456789", id="inbound-the-caller"),
    pytest.param(OUTBOUND, "+79123456789", id="outbound-the-dialled-number"),
    pytest.param({**INBOUND, "caller_number": None}, None, id="withheld"),
    pytest.param({**INBOUND, "direction": "internal"}, None, id="between-extensions"),
])
def test_the_customer_of_a_call_event_from_an_older_producer_is_normalised_here(
        call: dict[str, object], customer: str | None) -> None:
    assert call_customer_e164(call) == customer


def test_the_producers_customer_e164_is_taken_as_it_is_even_when_null() -> None:
    assert call_customer_e164({**INBOUND, "customer_e164": "+494952345678"}) == "+494952345678"
    assert call_customer_e164({**INBOUND, "customer_e164": None}) is None
