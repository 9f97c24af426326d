"""A legacy row to a canonical payload with the adapter's field rules."""

from __future__ import annotations

import pytest

from bus.adapters.fieldmap import BadRow, FieldRule, row_payload

RULES: list[FieldRule] = [
    ("account.number", "account_no", "identifier", True),
    ("account.balance", "balance", "money", True),
    ("account.opened_on", "opened_at", "date", False),
]


def test_a_row_becomes_the_constants_and_each_field_in_its_canonical_form() -> None:
    row = {"account_no": " ЛС-1001 ", "balance": "1 234,50", "opened_at": None}

    payload = row_payload(row, RULES, constants={"change": "updated"}, currency="RUB")

    assert payload == {"change": "updated", "account": {
        "number": "LS-1001", "balance": {"amount": "1234.50", "currency": "RUB"}}}


def test_a_bad_row_names_every_problem_in_it() -> None:
    row = {"account_no": "  ", "balance": "lots", "opened_at": "12.03.2024"}

    with pytest.raises(BadRow) as bad:
        row_payload(row, RULES, constants={}, currency="RUB")

    assert bad.value.reasons == ["account_no: missing (needed for account.number)",
                                 "balance: is not a number",
                                 "opened_at: is not a date (YYYY-MM-DD)"]
