"""The billing simulator's data: holders, agreements, services and payments, LANBilling-shaped.

Rows are dicts of the WSDL types (``soapAccount``, ``soapAgreement``,
``soapVgroupBrief``, ``soapPaymentFull``) so the server only has to render them.
Sources: :meth:`BillingData.seed` (a small built-in directory, for the demo)
or :meth:`BillingData.from_directory` (``billing_accounts.csv`` of a
``../shared/datagen`` output: one holder per personal account, as the
generator says the billing keeps them, unlinked). Tests change records with
:meth:`touch`, :meth:`pay` and :meth:`apply_change`; every change moves the
holder's ``lastmoddate`` forward on a clock that never goes back.
"""

# ruff: noqa: RUF001 - Russian data and its Cyrillic letters, on purpose

from __future__ import annotations

import csv
import re
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["BillingData", "Row"]

Row = dict[str, Any]
STAMP = "%Y-%m-%d %H:%M:%S"
LEGAL_FORMS = re.compile(r"(^|[\s«\"])(ООО|АО|ЗАО|ПАО|ОАО|OOO|AO|Общество|Акционерное)([\s»\"]|$)")
TARIFFS: dict[str, list[tuple[int, str, float]]] = {
    "Базовый": [(6, "Интернет 50 Мбит/с", 400.0)],
    "Домашний 100": [(6, "Интернет 100 Мбит/с", 650.0)],
    "Домашний 500": [(6, "Интернет 500 Мбит/с", 900.0)],
    "Мобильный+": [(12, "Мобильная связь", 450.0)],
    "ТВ+Интернет": [(6, "Интернет 100 Мбит/с", 650.0), (14, "Цифровое ТВ", 300.0)],
    "Бизнес Старт": [(6, "Интернет для бизнеса", 1500.0), (12, "Телефония офиса", 700.0)],
    "Бизнес Про": [(6, "Интернет для бизнеса Про", 3500.0), (12, "Телефония офиса", 700.0)],
}
BLOCKED = {"active": 0, "blocked": 3, "suspended": 2, "closed": 10}
SEED = [
    # account_no, holder_name, inn, passport, birth_date, phone, address, opened_at, status,
    # balance, tariff
    ("ЛС-00000001", "Иванова Мария Петровна", "", "0407 №212471", "1984-05-17",
     "8 (912) 345-67-89", "г. Красноярск, ул. Ленина, д. 1, кв. 2", "2019-02-01", "active",
     "-125.50", "Домашний 100"),
    ("ЛС-00000002", "ООО «Сибирские сети»", "2465012345", "", "", "+7 391 200-11-00",
     "г. Красноярск, пр. Мира, д. 10, оф. 5", "2018-06-15", "active", "15400.00", "Бизнес Про"),
    ("ЛС-00000003", "Петров Иван Сергеевич", "246512345678", "04 07 123456", "1975-11-03",
     "79131234567", "г. Красноярск, ул. Мира, д. 3, кв. 7", "2020-10-15", "blocked", "-830.10",
     "ТВ+Интернет"),
    ("ЛС-00000004", "ИП Соколов Андрей Викторович", "246598765432", "0411 654321", "",
     "8 391 222-33-44", "г. Красноярск, ул. Партизана Железняка, д. 5", "2021-03-01",
     "active", "0.00", "Бизнес Старт"),
    ("ЛС-00000005", "Кузнецова Ольга Ивановна", "", "", "1990-01-20", "+79029998877",
     "г. Канск, ул. Садовая, д. 4, кв. 1", "2016-07-27", "closed", "12.40", "Мобильный+"),
    ("ЛС-00000006", "Иванова Мария Петровна", "", "0407 212471", "", "9123456789",
     "г. Красноярск, ул. Ленина, д. 1, кв. 2", "2023-09-25", "active", "310.00",
     "Мобильный+"),
]


class BillingData:
    """Thread-safe: the simulator serves several connections at once."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.holders: dict[int, Row] = {}
        self.addresses: dict[int, list[Row]] = {}
        self.agreements: dict[int, Row] = {}
        self.vgroups: dict[int, Row] = {}
        self.owned: dict[int, list[int]] = {}
        """uid -> agrmids, so a holder's agreements are found without a scan."""
        self.services: dict[int, list[int]] = {}
        """agrmid -> vgids."""
        self.payments: list[Row] = []
        self.documents: list[Row] = [
            {"docid": 1, "name": "Счёт", "doctemplate": "invoice.xsl", "onfly": 0},
            {"docid": 2, "name": "Акт выполненных работ", "doctemplate": "act.xsl", "onfly": 0},
        ]
        self._next = {"uid": 10000, "agrmid": 20000, "vgid": 30000, "recordid": 40000}
        self._clock = datetime(2000, 1, 1, tzinfo=UTC)

    # -- loading --------------------------------------------------------------

    @classmethod
    def seed(cls) -> BillingData:
        """A small directory with a person, a company, a sole proprietor, a blocked and a
        closed account, and one person whose second account repeats her with other typos."""
        data = cls()
        fields = ("account_no", "holder_name", "inn", "passport", "birth_date", "phone",
                  "address", "opened_at", "status", "balance", "tariff")
        for values in SEED:
            data.add(dict(zip(fields, values, strict=True)))
        return data

    @classmethod
    def from_directory(cls, directory: Path | str) -> BillingData:
        """The personal accounts of a datagen output (``billing_accounts.csv``)."""
        data = cls()
        with open(Path(directory) / "billing_accounts.csv", newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                data.add(row)
        return data

    def add(self, record: Mapping[str, str]) -> int:
        """A holder with one agreement and its services from a datagen-style row; its uid."""
        with self.lock:
            uid = self._id("uid")
            modified = f"{record.get('opened_at') or '2020-01-01'} 12:00:00"
            self._clock = max(self._clock, _parse(modified))
            self.holders[uid] = {"uid": uid, "lastmoddate": modified, "archive": 0,
                                 **_holder_fields(record)}
            self.addresses[uid] = [{"type": 0, "code": "", "address": record.get("address", "")}]
            agrmid = self._id("agrmid")
            self.owned.setdefault(uid, []).append(agrmid)
            self.agreements[agrmid] = {
                "agrmid": agrmid, "uid": uid, "number": record["account_no"], "curid": 1,
                "symbol": "руб.", "balance": float(record.get("balance") or 0), "credit": 0.0,
                "date": record.get("opened_at", ""), "closedon": "", "archive": 0,
            }
            self._set_status(agrmid, record)
            return uid

    # -- reads ----------------------------------------------------------------

    def holder_full(self, uid: int) -> Row | None:
        """A ``soapAccountFull``."""
        with self.lock:
            if uid not in self.holders:
                return None
            return {"account": dict(self.holders[uid]), "addresses": self.addresses[uid],
                    "agreements": [dict(self.agreements[a]) for a in self.owned.get(uid, [])]}

    def list_item(self, uid: int) -> Row:
        """A ``soapAccountsListItem``: the brief holder, its agreements and addresses."""
        holder = self.holders[uid]
        brief = {k: holder.get(k) for k in ("uid", "type", "login", "name", "descr", "email",
                                            "phone", "mobile", "soleproprietor", "managerid")}
        agreements = [{k: self.agreements[a][k] for k in ("agrmid", "balance", "number",
                                                          "symbol", "date", "closedon")}
                      for a in self.owned.get(uid, [])]
        return {"account": brief, "agreements": agreements, "addresses": self.addresses[uid]}

    def vgroups_of(self, uid: int) -> list[Row]:
        """The services under a holder's agreements."""
        return [self.vgroups[vgid] for agrmid in self.owned.get(uid, [])
                for vgid in self.services.get(agrmid, [])]

    def find_holders(self, flt: Mapping[str, Any]) -> list[int]:
        """uids matching the soapFilter fields the simulator understands."""
        with self.lock:
            uids = list(self.holders)
            if flt.get("userid"):
                uids = [u for u in uids if u == flt["userid"]]
            if flt.get("inn"):
                uids = [u for u in uids if _digits(self.holders[u].get("inn")) == flt["inn"]]
            if flt.get("phone"):
                wanted = _digits(flt["phone"])[-10:]
                uids = [u for u in uids if any(
                    _digits(n)[-10:] == wanted for field in ("phone", "mobile")
                    for n in re.split(r"[,;]", self.holders[u].get(field) or "") if n)]
            if flt.get("name"):
                uids = [u for u in uids if flt["name"].lower() in self.holders[u]["name"].lower()]
            if flt.get("agrmnum"):
                uids = [a["uid"] for a in self.agreements.values()
                        if a["number"] == flt["agrmnum"]]
            if flt.get("dtfrom"):
                uids = [u for u in uids if self.holders[u]["lastmoddate"] >= flt["dtfrom"]]
            if flt.get("dtto"):
                uids = [u for u in uids if self.holders[u]["lastmoddate"] < flt["dtto"]]
            return uids

    def sort_holders(self, uids: list[int], order: Iterable[Mapping[str, Any]]) -> list[int]:
        for rule in reversed(list(order) or [{"name": "uid", "ascdesc": 0}]):
            name = rule.get("name") or "uid"
            uids.sort(key=lambda u, n=name: self.holders[u].get(n) or "",  # type: ignore[misc]
                      reverse=bool(rule.get("ascdesc")))
        return uids

    # -- changes --------------------------------------------------------------

    def stamp(self) -> str:
        """Now, or one second after the newest change, whichever is later."""
        with self.lock:
            self._clock = max(datetime.now(UTC).replace(microsecond=0),
                              self._clock + timedelta(seconds=1))
            return self._clock.strftime(STAMP)

    def touch(self, uid: int, /, **fields: Any) -> None:
        """Change a holder's fields as an operator would; its lastmoddate moves on."""
        with self.lock:
            self.holders[uid].update(fields)
            self.holders[uid]["lastmoddate"] = self.stamp()

    def pay(self, agrmid: int, amount: float) -> Row:
        """A payment to an agreement: balance up, a ``soapPaymentFull`` recorded."""
        with self.lock:
            agreement = self.agreements[agrmid]
            agreement["balance"] = round(agreement["balance"] + amount, 2)
            when = self.stamp()
            payment = {"pay": {"recordid": self._id("recordid"), "agrmid": agrmid,
                               "amount": amount, "paydate": when, "localdate": when,
                               "receipt": f"R-{len(self.payments) + 1}", "status": 0},
                       "uid": agreement["uid"], "agrm": agreement["number"], "currsymb": "руб."}
            self.payments.append(payment)
            return payment

    def apply_change(self, record: Mapping[str, str]) -> int:
        """A ``changes.jsonl`` billing record: update the account's holder, or add it."""
        with self.lock:
            found = [a for a in self.agreements.values() if a["number"] == record["account_no"]]
            if not found:
                uid = self.add(record)
                self.holders[uid]["lastmoddate"] = self.stamp()
                return uid
            agreement = found[0]
            uid = int(agreement["uid"])
            agreement["balance"] = float(record.get("balance") or agreement["balance"])
            self.addresses[uid] = [{"type": 0, "code": "", "address": record.get("address", "")}]
            self._set_status(agreement["agrmid"], record)
            self.touch(uid, **_holder_fields(record))
            return uid

    def _set_status(self, agrmid: int, record: Mapping[str, str]) -> None:
        agreement = self.agreements[agrmid]
        status = record.get("status") or "active"
        agreement["closedon"] = self._clock.strftime("%Y-%m-%d") if status == "closed" else ""
        for vgid in self.services.pop(agrmid, []):
            del self.vgroups[vgid]
        tariff = record.get("tariff") or "Базовый"
        for agenttype, name, fee in TARIFFS.get(tariff, [(13, tariff, 0.0)]):
            vgid = self._id("vgid")
            self.services.setdefault(agrmid, []).append(vgid)
            self.vgroups[vgid] = {
                "vgid": vgid, "agrmid": agrmid, "uid": agreement["uid"], "agenttype": agenttype,
                "login": f"vg{vgid}", "descr": name, "tarifdescr": tariff,
                "agrmnum": agreement["number"], "blocked": BLOCKED.get(status, 0),
                "monthlyrent": fee, "accondate": f"{agreement['date']} 00:00:00",
                "creationdate": f"{agreement['date']} 00:00:00",
            }

    def _id(self, kind: str) -> int:
        self._next[kind] += 1
        return self._next[kind]


def _holder_fields(record: Mapping[str, str]) -> Row:
    name = (record.get("holder_name") or "").strip()
    inn = (record.get("inn") or "").strip()
    company = bool(LEGAL_FORMS.search(name)) or len(_digits(inn)) == 10
    sole = name.startswith("ИП ")
    words = name.removeprefix("ИП ").split()
    passport = (record.get("passport") or "").strip()
    number = re.search(r"([0-9]{6})\s*$", passport)
    series = passport[:number.start()] if number else ""
    return {
        "type": 1 if company else 2, "name": name, "inn": inn, "soleproprietor": sole,
        "abonentsurname": "" if company else (words[0] if words else ""),
        "abonentname": "" if company or len(words) < 2 else words[1],
        "abonentpatronymic": "" if company else " ".join(words[2:]),
        "passsernum": series.replace("№", "").strip(), "passno": number.group(1) if number else "",
        "birthdate": record.get("birth_date") or "", "phone": record.get("phone") or "",
        "mobile": "", "email": "", "login": "", "descr": "",
    }


def _digits(value: Any) -> str:
    return re.sub(r"\D", "", str(value or ""))


def _parse(stamp: str) -> datetime:
    return datetime.strptime(stamp, STAMP).replace(tzinfo=UTC)
