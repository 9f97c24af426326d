"""Pair scoring: each field's agreement weight, summed (Fellegi-Sunter style).

:func:`score_pair` returns the total, the field weights and the deterministic
rule that decided the pair, if any. :func:`pair_score` is the total alone, the
compare loop's hot path (most candidate pairs are dropped on it): the same
weights, added in the same order, without building the field dict. Two records
of different kinds (a company and its director) are never compared: they score
``-inf`` under ``kind-guard``.
"""

from __future__ import annotations

from rapidfuzz.distance import OSA

from sync.match.settings import Weights
from sync.normalize.persons import first_name_gender, initials_of
from sync.normalize.record import NormalizedRecord

__all__ = ["NEVER", "pair_score", "score_pair"]

NEVER = float("-inf")


def _close(a: str, b: str) -> bool:
    """A typo apart: swapped, dropped or mistyped letters (one Cyrillic letter may
    be two Latin ones in the skeleton, so longer words allow two edits)."""
    limit = 2 if min(len(a), len(b)) >= 4 else 1
    return OSA.distance(a, b, score_cutoff=limit) <= limit


def _share(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    return any(p in b for p in a)


def _name_part(a: str, b: str, ai: str, bi: str, agree: float, fuzzy: float,
               initial: float, disagree: float) -> float | None:  # fmt: skip
    if a and b:
        if a == b:
            return agree
        if first_name_gender(a) and first_name_gender(b):
            return disagree  # two real names (Анна, Инна): two people
        return fuzzy if _close(a, b) else disagree
    if ai and bi:
        if ai == bi or (a and bi in initials_of(a)) or (b and ai in initials_of(b)):
            return initial
        return disagree
    return None


def _person(a: NormalizedRecord, b: NormalizedRecord, w: Weights, out: dict[str, float]) -> None:
    if a.gender and b.gender and a.gender != b.gender:
        out["gender"] = w.gender_disagree
    if a.birth_date and b.birth_date:
        out["birth_date"] = w.birth_agree if a.birth_date == b.birth_date else w.birth_disagree
    if a.passport and b.passport:
        out["passport"] = w.passport_agree if a.passport == b.passport else w.passport_disagree
    if a.surname and b.surname:
        if a.surname == b.surname:
            out["surname"] = w.surname_agree
        elif _close(a.surname, b.surname):
            out["surname"] = w.surname_fuzzy
        elif a.gender == "f" and b.gender == "f":
            out["surname"] = w.married_surname_disagree
        else:
            out["surname"] = w.surname_disagree
    first = _name_part(a.first, b.first, a.first_initial, b.first_initial, w.first_agree,
                       w.first_fuzzy, w.first_initial_agree, w.first_disagree)  # fmt: skip
    if first is not None:
        out["first_name"] = first
    patronymic = _name_part(a.patronymic, b.patronymic, a.patronymic_initial,
                            b.patronymic_initial, w.patronymic_agree, w.patronymic_fuzzy,
                            w.patronymic_initial_agree, w.patronymic_disagree)  # fmt: skip
    if patronymic is not None:
        out["patronymic"] = patronymic
    if a.phones and b.phones:
        if _share(a.mobiles, b.mobiles):
            out["phone"] = w.mobile_agree
        elif _share(a.phones, b.phones):
            out["phone"] = w.landline_agree
        else:
            out["phone"] = w.phone_disagree


def _company(a: NormalizedRecord, b: NormalizedRecord, w: Weights, out: dict[str, float]) -> None:
    if a.name_key and b.name_key:
        if a.name_key == b.name_key:
            out["name"] = w.company_name_agree
        elif _close(a.name_key, b.name_key):
            out["name"] = w.company_name_fuzzy
        else:
            out["name"] = w.company_name_disagree
    if a.legal_form and b.legal_form and a.legal_form != b.legal_form:
        out["legal_form"] = w.legal_form_disagree
    if a.phones and b.phones:
        out["phone"] = w.company_phone_agree if _share(a.phones, b.phones) else w.phone_disagree


def _address(a: NormalizedRecord, b: NormalizedRecord, w: Weights, agree: float,
             out: dict[str, float]) -> None:  # fmt: skip
    if a.city and b.city and a.city != b.city:
        out["city"] = w.city_disagree
    if a.address and b.address:
        if a.address == b.address:
            out["address"] = agree
        elif _close(a.address, b.address):
            out["address"] = w.address_fuzzy
        else:
            out["address"] = w.address_disagree


def score_pair(
    a: NormalizedRecord, b: NormalizedRecord, w: Weights
) -> tuple[float, dict[str, float], str | None]:
    """(score, field weights, deciding rule or None) for two normalized records."""
    if a.kind != b.kind:
        return NEVER, {}, "kind-guard"
    out: dict[str, float] = {}
    rule: str | None = None
    if a.inn and b.inn:
        same = a.inn == b.inn
        out["inn"] = w.inn_agree if same else w.inn_disagree
        rule = "same-valid-inn" if same else "different-valid-inn"
    if a.kind == "company":
        _company(a, b, w, out)
        _address(a, b, w, w.company_address_agree, out)
    else:
        _person(a, b, w, out)
        _address(a, b, w, w.address_agree, out)
        if rule is None and "passport" in out and out["passport"] > 0:
            rule = "same-passport"
        if "gender" in out:
            rule = "gender-guard"
        elif out.get("birth_date", 0.0) < 0 and out.get("surname", 0.0) > 0:
            rule = "namesake-guard"
    if a.email and b.email:
        agree = w.email_agree if a.kind == "person" else w.company_email_agree
        out["email"] = agree if a.email == b.email else w.email_disagree
    return sum(out.values()), out, rule


def _address_weight(a: NormalizedRecord, b: NormalizedRecord, w: Weights, agree: float,
                    total: float) -> float:  # fmt: skip
    if a.city and b.city and a.city != b.city:
        total += w.city_disagree
    if a.address and b.address:
        if a.address == b.address:
            total += agree
        elif _close(a.address, b.address):
            total += w.address_fuzzy
        else:
            total += w.address_disagree
    return total


def _person_weight(a: NormalizedRecord, b: NormalizedRecord, w: Weights, total: float) -> float:
    if a.gender and b.gender and a.gender != b.gender:
        total += w.gender_disagree
    if a.birth_date and b.birth_date:
        total += w.birth_agree if a.birth_date == b.birth_date else w.birth_disagree
    if a.passport and b.passport:
        total += w.passport_agree if a.passport == b.passport else w.passport_disagree
    if a.surname and b.surname:
        if a.surname == b.surname:
            total += w.surname_agree
        elif _close(a.surname, b.surname):
            total += w.surname_fuzzy
        elif a.gender == "f" and b.gender == "f":
            total += w.married_surname_disagree
        else:
            total += w.surname_disagree
    first = _name_part(a.first, b.first, a.first_initial, b.first_initial, w.first_agree,
                       w.first_fuzzy, w.first_initial_agree, w.first_disagree)  # fmt: skip
    if first is not None:
        total += first
    patronymic = _name_part(a.patronymic, b.patronymic, a.patronymic_initial,
                            b.patronymic_initial, w.patronymic_agree, w.patronymic_fuzzy,
                            w.patronymic_initial_agree, w.patronymic_disagree)  # fmt: skip
    if patronymic is not None:
        total += patronymic
    if a.phones and b.phones:
        if _share(a.mobiles, b.mobiles):
            total += w.mobile_agree
        elif _share(a.phones, b.phones):
            total += w.landline_agree
        else:
            total += w.phone_disagree
    return _address_weight(a, b, w, w.address_agree, total)


def _company_weight(a: NormalizedRecord, b: NormalizedRecord, w: Weights, total: float) -> float:
    if a.name_key and b.name_key:
        if a.name_key == b.name_key:
            total += w.company_name_agree
        elif _close(a.name_key, b.name_key):
            total += w.company_name_fuzzy
        else:
            total += w.company_name_disagree
    if a.legal_form and b.legal_form and a.legal_form != b.legal_form:
        total += w.legal_form_disagree
    if a.phones and b.phones:
        total += w.company_phone_agree if _share(a.phones, b.phones) else w.phone_disagree
    return _address_weight(a, b, w, w.company_address_agree, total)


def pair_score(a: NormalizedRecord, b: NormalizedRecord, w: Weights) -> float:
    """``score_pair(a, b, w)[0]``: the same weights added in the same order (running
    ``total`` through each part), so the very same float."""
    if a.kind != b.kind:
        return NEVER
    total = 0.0
    if a.inn and b.inn:
        total += w.inn_agree if a.inn == b.inn else w.inn_disagree
    if a.kind == "company":
        total = _company_weight(a, b, w, total)
    else:
        total = _person_weight(a, b, w, total)
    if a.email and b.email:
        agree = w.email_agree if a.kind == "person" else w.company_email_agree
        total += agree if a.email == b.email else w.email_disagree
    return total
