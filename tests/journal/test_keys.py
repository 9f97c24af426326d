"""Business keys taken from payloads for searching the journal."""

from __future__ import annotations

from bus.journal import KeyExtractor, normalize_phone
from bus.settings import JournalSettings


def extractor(**overrides: object) -> KeyExtractor:
    settings = JournalSettings.model_validate(overrides)
    return KeyExtractor(settings.lookup_fields, hashed=settings.hashed_lookups, secret="s3cret")


def test_russian_phone_spellings_become_one_e164_number() -> None:
    for spelling in ("+79161234567", "8 (916) 123-45-67", "79161234567", "9161234567",
                     "+7 916 123 45 67"):
        assert normalize_phone(spelling) == "+79161234567", spelling
    assert normalize_phone("101") == "101"
    assert normalize_phone("+44 20 7946 0958") == "+442079460958"


def test_keys_are_found_at_any_depth_in_lists_and_in_any_spelling() -> None:
    keys = extractor().extract({
        "call": {"Caller": "8 916 123-45-67", "called": 101},
        "customer": {"customerId": "C-1", "accounts": [{"account_number": "LS-7"}, "LS-8"]},
        "phones": [{"e164": "+79160000000"}],
        "account": ["LS-9", {"nested": "ignored"}],
        "flag": True,
    })
    assert set(keys) == {
        ("phone", "+79161234567"), ("phone", "101"), ("phone", "+79160000000"),
        ("customer_id", "C-1"), ("account", "LS-7"), ("account", "LS-9"),
    }


def test_dotted_paths_are_read_from_the_root() -> None:
    keys = extractor(lookup_fields={"account": ("billing.ls",)}).extract(
        {"billing": {"ls": "LS-1"}, "other": {"billing": {"ls": "LS-2"}}}
    )
    assert keys == [("account", "LS-1")]


def test_an_inn_is_stored_only_as_a_keyed_hash() -> None:
    keys = extractor().extract({"inn": "77 0123 4567"})
    assert len(keys) == 1
    name, value = keys[0]
    assert name == "inn_hash"
    assert "7701234567" not in value
    assert value == extractor().stored_value("inn", "7701234567")
    other_secret = KeyExtractor({"inn": ("inn",)}, secret="other").stored_value("inn", "7701234567")
    assert other_secret != value


def test_a_bare_search_value_tries_every_stored_form() -> None:
    forms = extractor().candidates("8 916 123-45-67")
    assert "+79161234567" in forms
    assert "8 916 123-45-67" in forms
