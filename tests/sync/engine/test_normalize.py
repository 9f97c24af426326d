# ruff: noqa: RUF001 - Russian names and addresses, on purpose
"""Each normalization rule on the spellings clerks really type."""

from __future__ import annotations

import pytest

from bus.phones import to_e164
from sync.model import SourceRecord
from sync.normalize import (
    normalize_address,
    normalize_birth_date,
    normalize_email,
    normalize_inn,
    normalize_passport,
    normalize_phone,
    normalize_record,
    parse_company_name,
    parse_person_name,
    skeleton,
    to_cyrillic,
)


def test_case_spaces_and_yo_do_not_change_a_name() -> None:
    a = parse_person_name("СЕМЁНОВ  Пётр   Фёдорович")
    b = parse_person_name("Семенов Петр Федорович")
    assert a.key == b.key == "semenov petr fedorovich"


@pytest.mark.parametrize(
    "typed",
    ["Иванова Анна Сергеевна", "Анна Сергеевна Иванова", "ИВАНОВА АННА СЕРГЕЕВНА"],
)
def test_word_order_surname_first_or_last(typed: str) -> None:
    name = parse_person_name(typed)
    assert (name.surname, name.first, name.patronymic) == ("ivanova", "anna", "sergeevna")
    assert name.display == "Иванова Анна Сергеевна"


def test_initials_are_kept_as_initials() -> None:
    name = parse_person_name("Петров А.С.")
    assert (name.surname, name.first, name.first_initial, name.patronymic_initial) == (
        "petrov", "", "a", "s",
    )  # fmt: skip


def test_latin_initials_of_two_letters_are_one_initial() -> None:
    name = parse_person_name("Voronin M.Yu.")
    assert (name.first, name.first_initial, name.patronymic_initial) == ("", "m", "yu")


def test_latin_transliteration_reads_as_the_cyrillic_name() -> None:
    latin = parse_person_name("Solovyova Yuliya Dmitriyevna")
    cyrillic = parse_person_name("Соловьёва Юлия Дмитриевна")
    assert latin.key == cyrillic.key
    assert latin.display == "Соловёва Юлия Дмитриевна"  # ь is lost in Latin; ё read back
    assert to_cyrillic("Leonov") == "леонов"


def test_diminutive_becomes_the_full_name_of_the_right_gender() -> None:
    assert parse_person_name("Петров Саша Иванович").first == skeleton("Александр")
    assert parse_person_name("Петрова Саша Ивановна").first == skeleton("Александра")
    assert parse_person_name("Кузнецова Наташа").display == "Кузнецова Наталья"


def test_gender_from_patronymic_surname_or_first_name() -> None:
    assert parse_person_name("Бондаренко Ирина").gender == "f"
    assert parse_person_name("Бондаренко И. Петрович").gender == "m"
    assert parse_person_name("Толстая А.").gender == "f"


@pytest.mark.parametrize(
    "typed",
    [
        "ООО «Ромашка»",
        "Ромашка ООО",
        'ООО "Ромашка"',
        "Общество с ограниченной ответственностью «Ромашка»",
        "OOO Romashka",
        "ООО «РОМАШКА»",
    ],
)
def test_company_legal_form_quotes_and_order(typed: str) -> None:
    name = parse_company_name(typed)
    assert (name.legal_form, name.key, name.display) == ("ООО", "romashka", "ООО «Ромашка»")


def test_other_legal_forms() -> None:
    assert parse_company_name("Публичное акционерное общество «Связь»").legal_form == "ПАО"
    assert parse_company_name("АО Связь").legal_form == "АО"
    assert parse_company_name("ИП Сидоров").legal_form == "ИП"


def test_inn_checksum_of_company_and_person() -> None:
    company = normalize_inn("7707083893")
    person = normalize_inn("500100732259")
    assert company is not None and company.valid and company.kind == "company"
    assert person is not None and person.valid and person.kind == "person"


def test_inn_with_a_bad_checksum_is_flagged_and_not_trusted() -> None:
    bad = normalize_inn("7707083894")
    assert bad is not None and not bad.valid
    record = normalize_record(SourceRecord("billing", "1", name="ООО «Х»", inn="7707083894"))
    assert record.inn is None and record.inn_invalid


@pytest.mark.parametrize("typed", ["4509 123456", "45 09 123456", "4509 №123456", "4509123456"])
def test_passport_in_any_spacing(typed: str) -> None:
    assert normalize_passport(typed) == "4509123456"


def test_passport_with_wrong_length_is_dropped() -> None:
    assert normalize_passport("4509 12345") is None


@pytest.mark.parametrize("typed", ["1980-03-07", "07.03.1980", "07/03/1980"])
def test_birth_dates(typed: str) -> None:
    assert normalize_birth_date(typed) == "1980-03-07"


def test_impossible_birth_date_is_none() -> None:
    assert normalize_birth_date("1812-01-01") is None
    assert normalize_birth_date("вчера") is None


@pytest.mark.parametrize(
    "typed",
    ["8 (912) 345-67-89", "+7 912 345 67 89", "89123456789", "9123456789", "79123456789"],
)
def test_phones_to_e164(typed: str) -> None:
    assert normalize_phone(typed) == "+79123456789" == to_e164(typed)


@pytest.mark.parametrize(
    "typed",
    ["8 (391) 234-56-78", "3912345678", "+7 3912 34 56 78", "8 800 555 35 35", "+44 20 7946 0958",
     "12-34", ""],
)  # fmt: skip
def test_phone_fast_path_agrees_with_to_e164(typed: str) -> None:
    assert normalize_phone(typed) == to_e164(typed)


def test_email() -> None:
    assert normalize_email(" Ivan.Petrov@Mail.Example ") == "ivan.petrov@mail.example"
    assert normalize_email("not an email") is None


def test_address_abbreviations_and_city_prefix() -> None:
    a = normalize_address("г. Томск, улица Свободы, дом 110, квартира 21", "Томск")
    b = normalize_address("Томск, ул. Свободы, д. 110, кв. 21", "Томск")
    c = normalize_address("город Томск, ул Свободы, д 110, кв 21", "Томск")
    assert a == b == c == "ул свободы д 110 кв 21"
    office = normalize_address("г. Москва, проспект Мира, д. 1, оф. 2", "Москва")
    assert office == "пр мира д 1 оф 2"


def test_billing_record_kind_is_inferred_from_legal_form_or_inn() -> None:
    company = normalize_record(SourceRecord("billing", "1", name="Ромашка ООО"))
    by_inn = normalize_record(SourceRecord("billing", "2", name="Ромашка", inn="7707083893"))
    person = normalize_record(SourceRecord("billing", "3", name="Петров Иван"))
    assert (company.kind, by_inn.kind, person.kind) == ("company", "company", "person")


def test_an_initial_is_the_whole_first_letter_not_its_first_latin_letter() -> None:
    """Ж. is not Зоя's initial, nor Ю. Ярослав's: the skeleton spells Ж, Ю as two letters."""
    initials = {raw: parse_person_name(raw) for raw in (
        "Власова Ж.О.", "Власова Зоя Олеговна", "Давыдов А.Ю.", "Давыдов Артём Ярославович",
        "Voronin M.Yu.")}
    assert initials["Власова Ж.О."].first_initial == "zh"
    assert initials["Власова Зоя Олеговна"].first_initial == "z"
    assert initials["Давыдов А.Ю."].patronymic_initial == "yu"
    assert initials["Давыдов Артём Ярославович"].patronymic_initial == "ya"
    latin = initials["Voronin M.Yu."]
    assert latin.patronymic_initial == initials["Давыдов А.Ю."].patronymic_initial


def test_a_typo_in_the_street_type_is_still_the_street_type() -> None:
    """``улца``, ``улице``, ``проспет``: one typo from a long form is that form, so the
    address still agrees (a street named Набережная stays a street of its type)."""
    clean_one = normalize_address("г. Омск, улица Набережная, д. 161, кв. 136", "Омск")
    assert normalize_address("г. Омск, улца Набережная, д. 161, кв. 136", "Омск") == clean_one
    assert normalize_address("г. Канск, улице Молодёжная, д. 4", "Канск") == "ул молодежная д 4"
    assert normalize_address("Томск, проспет Мира, д. 1", "Томск") == "пр мира д 1"
    assert normalize_address("Томск, ул. Садоая, д. 166", "Томск") == "ул садоая д 166"
