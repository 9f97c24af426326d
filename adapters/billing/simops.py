"""What each simulated LANBilling operation does with the data (the server renders it).

Methods are named and called like the SOAP operations, with the request's
parts as keyword arguments; they return the ``ret`` value or raise
:class:`SoapFault`. Filters understood (``soapFilter``): ``userid``, ``inn``,
``phone`` (compared by its last ten digits), ``name`` (substring),
``agrmnum``, ``agrmid``, ``vgid``, ``dtfrom``/``dtto`` (``lastmoddate`` of a
holder, ``paydate`` of a payment), ``pgnum``/``pgsize`` (pages from 1).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

from adapters.billing.simdata import BillingData, Row

__all__ = ["Operations", "SoapFault", "fault_envelope"]

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


class SoapFault(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def fault_envelope(code: str, message: str) -> bytes:
    """A SOAP 1.1 fault (``code`` "Client" or "Server"), as LANBilling sends one."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV='
            f'"{SOAP_ENV}"><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:{escape(code)}'
            f"</faultcode><faultstring>{escape(message)}</faultstring></SOAP-ENV:Fault>"
            "</SOAP-ENV:Body></SOAP-ENV:Envelope>").encode()


class Operations:
    def __init__(self, data: BillingData) -> None:
        self.data = data

    def Logout(self) -> int:
        return 1

    def getAccounts(self, flt: Row | None = None, ord: Sequence[Row] = ()
                    ) -> list[Row]:
        flt = _filter(flt)
        with self.data.lock:
            uids = self.data.sort_holders(self.data.find_holders(flt), ord or [])
            return [self.data.list_item(uid) for uid in _page(uids, flt)]

    def getAccount(self, id: int) -> list[Row]:
        holder = self.data.holder_full(int(id))
        if holder is None:
            raise SoapFault("Client", f"Account {id} not found")
        return [holder]

    def getAgreements(self, flt: Row | None = None, ord: Sequence[Row] = ()
                      ) -> list[Row]:
        flt = _filter(flt)
        with self.data.lock:
            rows = [dict(a) for a in self.data.agreements.values()
                    if _matches(a, flt, userid="uid", agrmid="agrmid", agrmnum="number")]
        rows.sort(key=lambda a: a["agrmid"])
        return _page(rows, flt)

    def getVgroups(self, flt: Row | None = None, ord: Sequence[Row] = ()
                   ) -> list[Row]:
        flt = _filter(flt)
        with self.data.lock:
            candidates = (self.data.vgroups_of(flt["userid"]) if "userid" in flt
                          else self.data.vgroups.values())
            rows = [dict(v) for v in candidates
                    if _matches(v, flt, userid="uid", agrmid="agrmid", vgid="vgid")]
        rows.sort(key=lambda v: v["vgid"])
        for rule in reversed(list(ord or [])):
            name = rule.get("name") or "vgid"
            rows.sort(key=lambda v, n=name: v.get(n) or 0,  # type: ignore[misc]
                      reverse=bool(rule.get("ascdesc")))
        return _page(rows, flt)

    def getPayments(self, flt: Row | None = None, ord: Sequence[Row] = ()
                    ) -> list[Row]:
        flt = _filter(flt)
        with self.data.lock:
            rows = [p for p in self.data.payments
                    if _matches(p, flt, userid="uid")
                    and _matches(p["pay"], flt, agrmid="agrmid")
                    and (not flt.get("dtfrom") or p["pay"]["paydate"] >= flt["dtfrom"])
                    and (not flt.get("dtto") or p["pay"]["paydate"] < flt["dtto"])]
        rows.sort(key=lambda p: (p["pay"]["paydate"], p["pay"]["recordid"]))
        return _page(rows, flt)

    def getDocuments(self, flt: Row | None = None) -> list[Row]:
        flt = _filter(flt)
        return _page([d for d in self.data.documents if _matches(d, flt, docid="docid")], flt)

    def insupdAccount(self, isInsert: int, val: Row) -> int:
        account = dict((val or {}).get("account") or {})
        inn = str(account.get("inn") or "")
        if inn and not re.fullmatch(r"[0-9]{10}|[0-9]{12}", inn):
            raise SoapFault("Client", f"Invalid INN: {inn!r} must be 10 or 12 digits")
        addresses = (val or {}).get("addresses") or None
        with self.data.lock:
            if isInsert:
                uid = self.data._id("uid")
                self.data.holders[uid] = {"archive": 0}
                self.data.addresses[uid] = []
            else:
                uid = int(account.get("uid") or 0)
                if uid not in self.data.holders:
                    raise SoapFault("Client", f"Account {uid} not found")
            fields = {k: v for k, v in account.items() if v is not None and k != "lastmoddate"}
            self.data.touch(uid, **{**fields, "uid": uid})
            if addresses is not None:
                self.data.addresses[uid] = [dict(a) for a in addresses]
        return uid


def _filter(flt: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (flt or {}).items() if v not in (None, "", [], 0)}


def _matches(row: Mapping[str, Any], flt: Mapping[str, Any], **fields: str) -> bool:
    return all(row.get(column) == flt[key] for key, column in fields.items() if key in flt)


def _page(rows: list[Any], flt: Mapping[str, Any]) -> list[Any]:
    size = int(flt.get("pgsize") or 0)
    if size <= 0:
        return rows
    start = (max(int(flt.get("pgnum") or 1), 1) - 1) * size
    return rows[start:start + size]
