"""Pure functions between LANBilling's shapes and the canonical ones. No I/O, no bus.

Input is what :class:`~adapters.billing.client.BillingClient` returns: plain
dicts of the WSDL types. A *holder* is a ``soapAccountFull`` (``account``,
``addresses``, ``agreements``) plus the ``vgroups`` (``soapVgroupBrief``) of
its agreements, under the key ``vgroups``.

* :func:`customer` - the holder as a canonical Customer (person or company);
* :func:`account` - one agreement (personal account) with its balance and services;
* :func:`account_changed` - ``billing.account.changed.v1`` payloads, one per agreement;
* :func:`soap_account` - canonical Customer fields written over a ``soapAccount``
  (write-back), only where a rule allows and the value really differs.

LANBilling codes as we read them: account ``type`` 1 legal entity, 2 person;
vgroup ``blocked`` 0 active, 2 blocked by the customer (suspended), 10
disconnected, anything else blocked; ``agenttype`` as in :data:`AGENT_KINDS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from adapters.billing import normalize as norm

__all__ = ["AGENT_KINDS", "account", "account_changed", "customer", "soap_account"]

Record = Mapping[str, Any]

AGENT_KINDS = {
    1: "internet", 2: "internet", 3: "internet", 4: "internet", 5: "internet", 6: "internet",
    7: "telephony", 8: "telephony", 9: "telephony", 12: "telephony", 11: "tv", 14: "tv",
    13: "other",
}
"""LANBilling agent (collector) type -> service kind; others are "other"."""

LEGAL_ENTITY, PERSON = 1, 2
DISCONNECTED, USER_BLOCK = 10, 2


def customer(holder: Record, *, timezone: str = "UTC") -> dict[str, Any]:
    """The holder (``soapAccountFull``) as a canonical Customer."""
    raw = holder.get("account") or {}
    result: dict[str, Any] = {"id": str(raw["uid"])}
    inn = norm.inn(raw.get("inn"))
    if _is_company(raw, inn):
        result["company"] = {
            "legal_name": norm.text(raw.get("name")) or f"holder {raw['uid']}",
            "short_name": None,
            "kpp": _digits(raw.get("kpp"), (9,)),
            "ogrn": _digits(raw.get("ogrn"), (13, 15)),
        }
    else:
        result["person"] = _person(raw)
    result["inn"] = inn
    result["status"] = "inactive" if raw.get("archive") else "active"
    manager = raw.get("managerid")
    result["manager_id"] = str(manager) if isinstance(manager, int) and manager > 0 else None
    result["address"] = _address(holder.get("addresses") or [])
    result["contacts"] = _contacts(raw, company="company" in result)
    result["updated_at"] = norm.to_timestamp(raw.get("lastmoddate"), timezone)
    return result


def account(
    agreement: Record, vgroups: Sequence[Record] | None, *, uid: Any,
    updated_at: str | None = None, currency: str = "RUB",
) -> dict[str, Any]:
    """One agreement as a canonical Account; ``vgroups=None`` leaves services out."""
    agrmid = agreement.get("agrmid")
    code = norm.currency_code(agreement.get("symbol"), currency)
    own = [vg for vg in vgroups or [] if vg.get("agrmid") == agrmid]
    credit = agreement.get("credit") or 0
    result: dict[str, Any] = {
        "number": norm.transliterate(str(agreement.get("number") or "")) or str(agrmid),
        "id": str(agrmid),
        "customer_id": str(uid),
        "status": _status(agreement, own),
        "balance": norm.money(agreement.get("balance"), code),
        "credit_limit": norm.money(credit, code) if credit else None,
        "tariff": next((norm.text(vg.get("tarifdescr")) for vg in own
                        if vg.get("blocked") != DISCONNECTED and vg.get("tarifdescr")), None),
        "opened_on": norm.to_date(agreement.get("date")),
        "closed_on": norm.to_date(agreement.get("closedon")),
        "updated_at": updated_at,
    }
    if vgroups is not None:
        result["services"] = [_service(vg, code) for vg in own]
    return result


def account_changed(
    holder: Record, *, change: str = "updated", timezone: str = "UTC", currency: str = "RUB",
) -> list[dict[str, Any]]:
    """``billing.account.changed.v1`` payloads: each agreement of the holder, with the holder."""
    holder_customer = customer(holder, timezone=timezone)
    uid = holder_customer["id"]
    return [
        {"change": change,
         "account": account(agreement, holder.get("vgroups") or [], uid=uid,
                            updated_at=holder_customer["updated_at"], currency=currency),
         "customer": holder_customer}
        for agreement in holder.get("agreements") or []
    ]


def soap_account(
    canonical: Record, current: Record, fields: Iterable[str],
) -> dict[str, Any]:
    """``current`` (a ``soapAccount``) with the allowed canonical values written over it.

    ``fields`` names what may be written: ``name``, ``inn``, ``passport``,
    ``birth_date``, ``phone``, ``email``, ``manager_id``, ``kpp``, ``ogrn``.
    A value is written only when the canonical record has one and it differs
    from the billing's after normalisation, so writing twice changes nothing.
    """
    allowed = set(fields)
    result = dict(current)
    person = canonical.get("person") or {}
    company = canonical.get("company") or {}

    def put(field: str, value: Any, same: Any = None) -> None:
        if field and value not in (None, "") and (same if same is not None else
                                                   result.get(field)) != value:
            result[field] = value

    if "name" in allowed and person:
        put("abonentsurname", person.get("last_name"))
        put("abonentname", person.get("first_name"))
        put("abonentpatronymic", person.get("middle_name"))
        full = " ".join(filter(None, (person.get("last_name"), person.get("first_name"),
                                      person.get("middle_name"))))
        put("name", full)
    if "name" in allowed and company:
        put("name", company.get("legal_name"))
    if "inn" in allowed:
        put("inn", canonical.get("inn"), norm.inn(current.get("inn")))
    if "kpp" in allowed:
        put("kpp", company.get("kpp"))
    if "ogrn" in allowed:
        put("ogrn", company.get("ogrn"))
    if "birth_date" in allowed:
        put("birthdate", person.get("birth_date"), norm.to_date(current.get("birthdate")))
    if "passport" in allowed and person.get("passport"):
        _put_passport(result, current, person["passport"])
    if "manager_id" in allowed and str(canonical.get("manager_id") or "").isdigit():
        put("managerid", int(canonical["manager_id"]))
    contacts = canonical.get("contacts") or []
    if "phone" in allowed:
        _put_phones(result, current, contacts)
    if "email" in allowed:
        emails = [c["email"] for c in contacts if c.get("email")]
        if emails and norm.email(current.get("email")) not in emails:
            result["email"] = emails[0]
    return result


# -- pieces ---------------------------------------------------------------------


def _is_company(raw: Record, inn: str | None) -> bool:
    kind = raw.get("type")
    if kind in (LEGAL_ENTITY, PERSON):
        return bool(kind == LEGAL_ENTITY)
    return inn is not None and len(inn) == 10


def _person(raw: Record) -> dict[str, Any]:
    words = (norm.text(raw.get("name")) or "").split()
    last = norm.text(raw.get("abonentsurname")) or (words[0] if words else None)
    first = norm.text(raw.get("abonentname")) or (words[1] if len(words) > 1 else None)
    middle = norm.text(raw.get("abonentpatronymic")) or (
        " ".join(words[2:])[:256] if len(words) > 2 else None)
    return {
        "last_name": last or f"holder {raw['uid']}",
        "first_name": first,
        "middle_name": middle,
        "birth_date": norm.to_date(raw.get("birthdate")),
        "passport": norm.passport(raw.get("passsernum"), raw.get("passno"),
                                  raw.get("passissuedate"), raw.get("passissuedep")),
        "sole_proprietor": bool(raw.get("soleproprietor")),
    }


def _contacts(raw: Record, *, company: bool) -> list[dict[str, Any]]:
    contacts: list[dict[str, Any]] = []
    seen: set[str] = set()
    for field, label in (("mobile", "mobile"), ("phone", "work" if company else "home"),
                         ("fax", "fax")):
        for number, entered in norm.phones(raw.get(field)):
            if number not in seen:
                seen.add(number)
                kind = "mobile" if number.startswith("+79") and label != "fax" else label
                contacts.append({"phone": number, "label": kind, "raw": entered})
    address = norm.email(raw.get("email"))
    if address:
        contacts.append({"email": address, "label": "work" if company else "other"})
    if contacts:
        contacts[0]["primary"] = True
    return contacts


def _address(addresses: Sequence[Record]) -> str | None:
    ordered = sorted(addresses, key=lambda a: (a.get("type") != 0, a.get("type") or 0))
    return next((norm.text(a.get("address")) for a in ordered if norm.text(a.get("address"))),
                None)


def _status(agreement: Record, vgroups: Sequence[Record]) -> str:
    if agreement.get("archive") or norm.to_date(agreement.get("closedon")):
        return "closed"
    live = [vg for vg in vgroups if vg.get("blocked") != DISCONNECTED]
    if live and all(vg.get("blocked") for vg in live):
        return "suspended" if all(vg.get("blocked") == USER_BLOCK for vg in live) else "blocked"
    return "active"


def _service(vgroup: Record, currency: str) -> dict[str, Any]:
    blocked = vgroup.get("blocked") or 0
    fee = vgroup.get("monthlyrent") or vgroup.get("rent") or 0
    return {
        "id": str(vgroup.get("vgid")),
        "name": (norm.text(vgroup.get("descr")) or norm.text(vgroup.get("login"))
                 or norm.text(vgroup.get("tarifdescr")) or f"vgroup {vgroup.get('vgid')}"),
        "kind": AGENT_KINDS.get(vgroup.get("agenttype") or 0, "other"),
        "tariff": norm.text(vgroup.get("tarifdescr")),
        "status": ("active" if not blocked else
                   "disconnected" if blocked == DISCONNECTED else "blocked"),
        "monthly_fee": norm.money(fee, currency) if fee else None,
        "started_on": norm.to_date(vgroup.get("accondate") or vgroup.get("creationdate")),
    }


def _digits(value: Any, lengths: tuple[int, ...]) -> str | None:
    digits = "".join(ch for ch in str(value or "") if ch.isdigit())
    return digits if len(digits) in lengths else None


def _put_passport(result: dict[str, Any], current: Record, passport: Record) -> None:
    have = norm.passport(current.get("passsernum"), current.get("passno"))
    if not have or (have["series"], have["number"]) != (passport.get("series"),
                                                         passport["number"]):
        result["passsernum"] = passport.get("series") or ""
        result["passno"] = passport["number"]
    if passport.get("issued_on") and passport["issued_on"] != norm.to_date(
            current.get("passissuedate")):
        result["passissuedate"] = passport["issued_on"]
    if passport.get("issued_by") and passport["issued_by"] != norm.text(
            current.get("passissuedep")):
        result["passissuedep"] = passport["issued_by"]


def _put_phones(result: dict[str, Any], current: Record, contacts: Sequence[Record]) -> None:
    """Add the golden numbers the holder lacks (mobiles to ``mobile``); never drop one."""
    have = {number for field in ("phone", "mobile")
            for number, _ in norm.phones(current.get(field))}
    for contact in contacts:
        number = contact.get("phone")
        if not number or number in have:
            continue
        field = "mobile" if contact.get("label") == "mobile" else "phone"
        existing = str(result.get(field) or "").strip()
        result[field] = f"{existing}, {number}" if existing else number
        have.add(number)
