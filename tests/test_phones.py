"""One E.164 rule for every adapter."""

from __future__ import annotations

import pytest

from bus.phones import to_e164


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
