"""Pure normalization of what clerks type: names, companies, identifiers, contacts.

Every function is deterministic and free of I/O; :func:`normalize_record` runs
all of them once over a :class:`sync.model.SourceRecord`.
"""

from sync.normalize.companies import LEGAL_FORMS, CompanyName, has_legal_form, parse_company_name
from sync.normalize.contacts import (
    address_numbers,
    is_mobile,
    normalize_address,
    normalize_email,
    normalize_phone,
)
from sync.normalize.identifiers import (
    Inn,
    normalize_birth_date,
    normalize_inn,
    normalize_passport,
)
from sync.normalize.persons import PersonName, first_name_gender, parse_person_name, surname_root
from sync.normalize.record import NormalizedRecord, normalize_record
from sync.normalize.text import clean, skeleton, to_cyrillic

__all__ = [
    "LEGAL_FORMS",
    "CompanyName",
    "Inn",
    "NormalizedRecord",
    "PersonName",
    "address_numbers",
    "clean",
    "first_name_gender",
    "has_legal_form",
    "is_mobile",
    "normalize_address",
    "normalize_birth_date",
    "normalize_email",
    "normalize_inn",
    "normalize_passport",
    "normalize_phone",
    "normalize_record",
    "parse_company_name",
    "parse_person_name",
    "skeleton",
    "surname_root",
    "to_cyrillic",
]
