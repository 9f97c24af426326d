"""SOAP reply mapping on random SOAP-shaped data: whatever LANBilling's ``getAccount`` /
``getVgroups`` hand back (as zeep serialises them: dicts of ints, floats, strings, None),
the mapping makes canonical payloads that pass their schema, in bounded time."""

# ruff: noqa: RUF001 - Cyrillic test data, on purpose

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from adapters.billing import mapping
from bus.schema import default_registry
from tests.fuzz.bounds import bounded, fuzz_settings

REGISTRY = default_registry()
CHANGED = "billing.account.changed.v1"
REPLIED = "billing.accounts.replied.v1"

LONG = st.integers(-(2**63), 2**63 - 1)
SMALL = st.integers(-3, 20)
ID = st.one_of(st.integers(1, 20), st.integers(1, 2**63 - 1))
"""LANBilling's ids (uid, agrmid, vgid) are positive; a negative one is refused by the
schema (``identifier``) and the feed logs and skips it (``BillingFeed._envelope``)."""
TEXT = st.one_of(
    st.text(max_size=30),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=30),
    st.sampled_from(["", " ", "0000-00-00", "0000-00-00 00:00:00", "2024-02-30", "2024-03-12",
                     "2024-03-12 07:00:00", "9999-12-31 23:59:59", "8 (951) 270-49-79",
                     "+7 912 345-67-89, 8-800-555-35-35; 112", "0407 №212471", "руб.",
                     "ЛС-00000001", "Иванов Иван Иванович", "ivan@example.com",
                     "7707083893", "500100732259", "\x00\x1f\ufffe"]),
    st.integers(257, 5000).map(lambda n: "Я" * n),
)
NUMBER = st.one_of(st.none(), SMALL, st.integers(-(10**17), 10**17),
                   st.floats(-1e15, 1e15), st.sampled_from([0.1, -125.5, float("nan"),
                                                            float("inf"), float("-inf")]))
"""Money as a double; beyond 18 integer digits see the test of absurd amounts."""
ABSURD = st.one_of(st.integers(10**18, 2**63 - 1), st.floats(1e18, 1e308))


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


ACCOUNT = st.fixed_dictionaries(
    {"uid": ID},
    optional={
        "type": maybe(SMALL), "name": maybe(TEXT), "inn": maybe(TEXT), "kpp": maybe(TEXT),
        "ogrn": maybe(TEXT), "archive": maybe(SMALL), "managerid": maybe(LONG),
        "lastmoddate": maybe(TEXT), "abonentsurname": maybe(TEXT), "abonentname": maybe(TEXT),
        "abonentpatronymic": maybe(TEXT), "birthdate": maybe(TEXT), "passsernum": maybe(TEXT),
        "passno": maybe(TEXT), "passissuedate": maybe(TEXT), "passissuedep": maybe(TEXT),
        "soleproprietor": maybe(SMALL), "mobile": maybe(TEXT), "phone": maybe(TEXT),
        "fax": maybe(TEXT), "email": maybe(TEXT),
    },
)
AGREEMENT = st.fixed_dictionaries(
    {"agrmid": ID},
    optional={"number": maybe(TEXT), "symbol": maybe(TEXT), "balance": NUMBER,
              "credit": NUMBER, "date": maybe(TEXT), "closedon": maybe(TEXT),
              "archive": maybe(SMALL)},
)
VGROUP = st.fixed_dictionaries(
    {"vgid": ID, "agrmid": ID},
    optional={"blocked": maybe(SMALL), "monthlyrent": NUMBER, "rent": NUMBER,
              "tarifdescr": maybe(TEXT), "descr": maybe(TEXT), "login": maybe(TEXT),
              "agenttype": maybe(SMALL), "accondate": maybe(TEXT), "creationdate": maybe(TEXT)},
)
ADDRESS = st.fixed_dictionaries({}, optional={"type": maybe(SMALL), "address": maybe(TEXT)})
HOLDER = st.fixed_dictionaries({
    "account": ACCOUNT,
    "agreements": st.lists(AGREEMENT, max_size=3),
    "addresses": st.lists(ADDRESS, max_size=2),
    "vgroups": st.lists(VGROUP, max_size=3),
})


@fuzz_settings(150)
@given(HOLDER, st.sampled_from(["UTC", "Europe/Moscow", "Asia/Krasnoyarsk"]))
def test_any_holder_maps_to_account_changed_events_that_pass_their_schema(
    holder: dict[str, Any], timezone: str,
) -> None:
    outcome = bounded(lambda: mapping.account_changed(holder, timezone=timezone), declared=())
    payloads = outcome.value or []
    assert len(payloads) == len(holder["agreements"])
    for payload in payloads:
        REGISTRY.validate(CHANGED, payload)


@fuzz_settings(100)
@given(HOLDER, st.booleans())
def test_any_holder_answers_an_accounts_request_with_a_valid_reply(
    holder: dict[str, Any], services: bool,
) -> None:
    uid = holder["account"]["uid"]

    def reply() -> dict[str, Any]:
        return {"accounts": [
            mapping.account(agreement, holder["vgroups"] if services else None, uid=uid)
            for agreement in holder["agreements"]]}

    REGISTRY.validate(REPLIED, bounded(reply, declared=()).value)


@fuzz_settings(30)
@given(HOLDER, AGREEMENT, ABSURD, st.booleans())
def test_an_absurd_amount_is_refused_by_the_schema_naming_the_amount(
    holder: dict[str, Any], agreement: dict[str, Any], amount: float, negative: bool,
) -> None:
    """Documented in ``normalize.money``: kept as it is, "the schema will say no"; the feed
    then logs the account and skips it (the other accounts go on)."""
    holder["agreements"] = [{**agreement, "balance": -amount if negative else amount}]
    payload = bounded(lambda: mapping.account_changed(holder), declared=()).value or []
    refusal = bounded(lambda: REGISTRY.validate(CHANGED, payload[0])).error
    assert refusal is not None and getattr(refusal, "field", "").startswith("payload.account.")
    assert "amount" in getattr(refusal, "field", "")
