# ruff: noqa: RUF001 - Russian names and addresses, on purpose
"""The traps of real directories: who must never be merged, and who still must be."""

from __future__ import annotations

from sync.match import MatchSettings, reconcile, score_pair
from sync.normalize import normalize_record
from tests.sync.engine.records import billing, crm, together

ADDRESS = "г. Красноярск, ул. Ленина, д. 10, кв. 5"


def test_namesakes_with_different_birth_dates_are_two_customers() -> None:
    a = crm("1", "Иванов Иван Иванович", kind="person", birth_date="1970-01-01",
            phones=("+79130000001",), city="Красноярск", address=ADDRESS)  # fmt: skip
    b = billing("L1", "Иванов Иван Иванович", birth_date="1985-05-05",
                passport="0401 111111", phones=("+79130000002",), city="Красноярск",
                address="г. Красноярск, ул. Мира, д. 1, кв. 1")  # fmt: skip
    result = reconcile([a, b])
    assert not together(result, a, b)
    assert not any(p.evidence.score >= MatchSettings().accept for p in result.review)


def test_namesakes_with_nothing_but_the_name_are_not_merged() -> None:
    a = crm("1", "Смирнов Олег Петрович", kind="person", city="Омск",
            address="г. Омск, ул. Мира, д. 1, кв. 2", phones=("+79130000011",))  # fmt: skip
    b = billing("L1", "Смирнов Олег Петрович", city="Омск",
                address="г. Омск, ул. Кирова, д. 7, кв. 9", phones=("+79130000012",))  # fmt: skip
    assert not together(reconcile([a, b]), a, b)


def test_family_at_one_address_with_one_landline_stays_apart() -> None:
    landline = "+73912000000"
    husband = crm("1", "Петров Сергей Иванович", kind="person", birth_date="1970-02-02",
                  phones=("+79130000021", landline), city="Красноярск",
                  address=ADDRESS)  # fmt: skip
    wife = crm("2", "Петрова Анна Викторовна", kind="person",
               phones=("+79130000022", landline), city="Красноярск", address=ADDRESS)  # fmt: skip
    son = billing("L1", "Петров Андрей Сергеевич", phones=(landline,), city="Красноярск",
                  address=ADDRESS)  # fmt: skip
    brother = billing("L2", "Петров Олег Иванович", phones=(landline,), city="Красноярск",
                      address=ADDRESS)  # fmt: skip
    result = reconcile([husband, wife, son, brother])
    assert len({result.clusters[r.key] for r in (husband, wife, son, brother)}) == 4


def test_company_and_its_director_are_never_compared() -> None:
    company = crm("1", "ООО «Петров и партнёры»", kind="company", inn="7707083893",
                  phones=("+73912000001",), city="Красноярск", address=ADDRESS)  # fmt: skip
    director = billing("L1", "Петров Сергей Иванович", inn="500100732259",
                       phones=("+73912000001",), city="Красноярск", address=ADDRESS)  # fmt: skip
    score, _, rule = score_pair(normalize_record(company), normalize_record(director),
                                MatchSettings().weights)  # fmt: skip
    assert rule == "kind-guard" and score == float("-inf")
    assert not together(reconcile([company, director]), company, director)


def test_married_name_links_when_passport_and_birth_date_hold() -> None:
    maiden = crm("1", "Соколова Мария Андреевна", kind="person", birth_date="1990-04-04",
                 passport="0415 123456", phones=("+79130000031",), city="Томск",
                 address="г. Томск, ул. Кирова, д. 3, кв. 4")  # fmt: skip
    married = billing("L1", "Морозова Мария Андреевна", birth_date="1990-04-04",
                      passport="04 15 123456", city="Томск",
                      address="Томск, улица Кирова, д. 3, кв. 4")  # fmt: skip
    assert together(reconcile([maiden, married]), maiden, married)


def test_changed_passport_links_when_inn_name_and_phone_hold() -> None:
    old = crm("1", "Кузнецов Павел Олегович", kind="person", inn="500100732259",
              passport="0401 111111", phones=("+79130000041",), city="Омск",
              address="г. Омск, ул. Мира, д. 5, кв. 6")  # fmt: skip
    new = billing("L1", "Кузнецов П.О.", inn="500100732259", passport="0411 999999",
                  phones=("8 913 000-00-41",), city="Омск",
                  address="г. Омск, ул. Мира, д. 5, кв. 6")  # fmt: skip
    result = reconcile([old, new])
    assert together(result, old, new)
    link = next(link for link in result.links if {link.left, link.right} == {old.key, new.key})
    assert link.rule == "same-valid-inn" and link.weights["passport"] < 0


def test_two_valid_inns_are_never_put_in_one_customer() -> None:
    a = crm("1", "ООО «Ромашка»", kind="company", inn="7707083893", city="Омск",
            address="г. Омск, ул. Мира, д. 5, оф. 6", phones=("+73812000001",))  # fmt: skip
    b = billing("L1", "ООО «Ромашка»", inn="7702070139", city="Омск",
                address="г. Омск, ул. Мира, д. 5, оф. 6", phones=("+73812000001",))  # fmt: skip
    assert not together(reconcile([a, b]), a, b)


def test_a_pair_between_the_thresholds_goes_to_review_with_evidence() -> None:
    a = crm("1", "Орлов Игорь Витальевич", kind="person", city="Омск",
            address="г. Омск, ул. Мира, д. 5, кв. 6")  # fmt: skip
    b = billing("L1", "Орлов И.В.", city="Омск")  # name and city, nothing else
    result = reconcile([a, b])
    settings = MatchSettings()
    assert not together(result, a, b)
    [pair] = result.review
    assert settings.review <= pair.evidence.score < settings.accept
    assert set(pair.evidence.weights) == {"surname", "first_name", "patronymic"}
