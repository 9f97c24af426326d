"""Pure functions between a CMIS document (succinct properties) and the canonical Document.

Our documents are a CMIS type (``esb:document`` by default) with these properties:

==========================  =========  =============================================
property                    type       canonical
==========================  =========  =============================================
``cmis:objectId``           id         ``id``
``esb:docType``             string     ``kind`` (``addendum`` is an ``agreement``)
``esb:number``              string     ``number``
``esb:docDate``             DateTime   ``date``
``esb:status``              string     ``status`` (unknown words: ``registered``)
``esb:title``               string     ``title``
``esb:accountNo``           string     ``account_number``
``esb:counterpartyName``    string     ``counterparty.name``
``esb:inn``                 string     ``counterparty.inn``
``esb:customerId``          string     ``counterparty.customer_id``
``esb:externalId``          string     the idempotency key of a registration
``cmis:contentStream*``                ``content`` (a link to the bus API, size, type)
``cmis:lastModificationDate``          ``updated_at``
==========================  =========  =============================================
"""

# ruff: noqa: RUF001 - the Cyrillic letters of account numbers, on purpose

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

__all__ = [
    "LOOKUP_PROPERTIES",
    "account_candidates",
    "account_number",
    "date_of",
    "document",
    "is_publishable_id",
    "lookup",
    "millis_of_date",
    "registration_properties",
    "timestamp_of",
]

Properties = Mapping[str, Any]

KINDS = ("contract", "agreement", "invoice", "act", "payment_order", "letter", "claim")
STATUSES = ("draft", "registered", "signed", "sent", "cancelled")
_KIND_BY_TYPE = {kind: kind for kind in KINDS} | {"addendum": "agreement"}
_TYPE_BY_KIND = {"agreement": "addendum"}

LOOKUP_PROPERTIES = {"inn": "esb:inn", "account_number": "esb:accountNo",
                     "customer_id": "esb:customerId"}
"""Request key -> the CMIS property it is looked up by."""

_IDENTIFIER = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._:@/+=\-]{0,127}$")
_INN = re.compile(r"^([0-9]{10}|[0-9]{12})$")
_MEDIA_TYPE = re.compile(r"^[a-z]+/[0-9A-Za-z.+\-]+$")
_DATE = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")  # common.json
_TIMESTAMP = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3])"
                        r":[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+\-]([01][0-9]|2[0-3]):[0-5][0-9])$")
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters no canonical text may hold (``common.json#/$defs/text``); JSON can carry them."""
_OUT_OF_RANGE = (ValueError, OverflowError, OSError)
"""What ``datetime.fromtimestamp`` raises for milliseconds no calendar holds (or NaN)."""


_LATIN_OF = {"А": "A", "Б": "B", "В": "V", "Г": "G", "Д": "D", "Е": "E", "Ж": "ZH",
             "З": "Z", "И": "I", "Й": "Y", "К": "K", "Л": "L", "М": "M", "Н": "N",
             "О": "O", "П": "P", "Р": "R", "С": "S", "Т": "T", "У": "U", "Ф": "F",
             "Х": "KH", "Ц": "TS", "Ч": "CH", "Ш": "SH", "Щ": "SCH", "Ы": "Y", "Э": "E",
             "Ю": "YU", "Я": "YA", "Ё": "E"}
_CYRILLIC_OF = {latin: cyrillic for cyrillic, latin in _LATIN_OF.items()
                if len(latin) == 1 and cyrillic not in "ЙЫЭЁ"}


def lookup(request: Mapping[str, Any]) -> tuple[str, list[str]] | None:
    """The CMIS property and the values a ``docflow.documents.requested.v1`` asks by.

    An account number is asked as given and with its Latin letter prefix back in
    Cyrillic (the canonical ``LS-00000001`` is the docflow's ``ЛС-00000001``).
    """
    for key, prop in LOOKUP_PROPERTIES.items():
        value = request.get(key)
        if value:
            text = str(value)
            return prop, account_candidates(text) if key == "account_number" else [text]
    return None


def account_number(value: Any) -> str | None:
    """A docflow account number as a canonical identifier (Cyrillic letters transliterated)."""
    text = _text(value)
    if text is None:
        return None
    latin = "".join(_LATIN_OF.get(char.upper(), char) for char in text)
    return latin if _IDENTIFIER.match(latin) else None


def account_candidates(identifier: str) -> list[str]:
    match = re.match(r"^([A-Za-z]+)(.*)$", identifier)
    candidates = [identifier]
    if match:
        candidates.append("".join(_CYRILLIC_OF.get(c, c) for c in match.group(1).upper())
                          + match.group(2))
    return list(dict.fromkeys(candidates))


def is_publishable_id(object_id: str) -> bool:
    """Whether a CMIS object id fits the canonical ``identifier`` (Alfresco's ``;1.0`` does not)."""
    return _IDENTIFIER.match(object_id) is not None


def document(props: Properties, *, content_base: str) -> dict[str, Any]:
    """The canonical Document of a CMIS document's succinct properties."""
    object_id = str(props["cmis:objectId"])
    doc_type = (_text(props.get("esb:docType")) or "").lower()
    status = (_text(props.get("esb:status")) or "").lower()
    name = _text(props.get("esb:counterpartyName"))
    inn = _text(props.get("esb:inn"))
    customer_id = _text(props.get("esb:customerId"))
    counterparty = None
    if name or inn or customer_id:
        counterparty = {"name": name or "", "inn": inn if inn and _INN.match(inn) else None,
                        "customer_id": customer_id if customer_id and _IDENTIFIER.match(
                            customer_id) else None}
    content: dict[str, Any] | None = None
    if props.get("cmis:contentStreamLength") is not None or props.get(
            "cmis:contentStreamMimeType"):
        content = {"uri": f"{content_base.rstrip('/')}/{quote(object_id, safe='')}/content"}
        media_type = _text(props.get("cmis:contentStreamMimeType"))
        media_type = (media_type or "").split(";")[0].strip().lower()
        if _MEDIA_TYPE.match(media_type):
            content["media_type"] = media_type
        length = props.get("cmis:contentStreamLength")
        if isinstance(length, int) and not isinstance(length, bool) and length >= 0:
            content["size_bytes"] = length
    attributes = {"docflow_type": doc_type} if doc_type and doc_type not in KINDS else {}
    external_id = _text(props.get("esb:externalId"))
    if external_id:
        attributes["external_id"] = external_id
    return {
        "id": object_id,
        "kind": _KIND_BY_TYPE.get(doc_type, "other"),
        "number": _text(props.get("esb:number")) or object_id,
        "date": date_of(props.get("esb:docDate") or props.get("cmis:creationDate")),
        "status": status if status in STATUSES else "registered",
        "title": _text(props.get("esb:title")) or _text(props.get("cmis:name")),
        "account_number": account_number(props.get("esb:accountNo")),
        "counterparty": counterparty,
        "amount": None,
        "content": content,
        "attributes": attributes,
        "updated_at": timestamp_of(props.get("cmis:lastModificationDate")),
    }


def registration_properties(command: Mapping[str, Any], *, file_name: str) -> dict[str, Any]:
    """CMIS properties of the document a ``docflow.registration.requested.v1`` creates.

    ``cmis:name`` starts with the external id: names are unique within a folder.
    """
    return {
        "cmis:name": f"{command['external_id']}-{file_name}",
        "esb:externalId": command["external_id"],
        "esb:docType": _TYPE_BY_KIND.get(command["kind"], command["kind"]),
        "esb:number": command["number"],
        "esb:docDate": millis_of_date(command["date"]),
        "esb:status": command.get("status") or "signed",
        "esb:title": command.get("title"),
        "esb:accountNo": command.get("account_number"),
        "esb:customerId": command.get("customer_id"),
        "esb:inn": command.get("inn"),
        "esb:counterpartyName": command.get("counterparty_name"),
    }


def millis_of_date(day: str) -> int:
    moment = date.fromisoformat(day)
    return int(datetime(moment.year, moment.month, moment.day, tzinfo=UTC).timestamp() * 1000)


def date_of(value: Any) -> str:
    """A CMIS DateTime (milliseconds, or ISO text from some servers) as a calendar date (UTC)."""
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value / 1000, tz=UTC).date().isoformat()
        except _OUT_OF_RANGE:
            return "1970-01-01"
    if isinstance(value, str) and _DATE.match(value[:10]):
        return value[:10]
    return "1970-01-01"


def timestamp_of(value: Any) -> str | None:
    """A CMIS DateTime as an RFC 3339 instant with milliseconds, or None."""
    if isinstance(value, int | float):
        try:
            moment = datetime.fromtimestamp(value / 1000, tz=UTC)
            # isoformat pads the year to four digits (strftime's %Y does not before 1000)
            return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        except _OUT_OF_RANGE:
            return None
    if isinstance(value, str) and _TIMESTAMP.match(value):
        return value
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = _NOT_XML.sub("", str(value)).strip()
    return text[:256] or None


