"""Discrepancies per system: what write-back would fix, what needs a person.

For every linked record, each golden attribute it carries is compared with
the customer's golden value: a different value is a *discrepancy*, a missing
one a *gap*. Write-back fixes them in the systems ``ESB_SYNC__WRITE_BACK``
allows; open conflicts need a person. Values are never printed (INN, passport
and phones are PII): the report names records and fields.
"""

from __future__ import annotations

import html
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from sync.golden import candidate_values
from sync.settings import SyncSettings
from sync.store.queue import list_conflicts
from sync.store.records import iter_records
from sync.store.tables import golden
from sync.store.xref import read_xref

__all__ = ["build_report", "render_html", "render_markdown"]

COMPARED = ("name", "birth_date", "inn", "passport", "phones", "email", "address")
EXAMPLES = 20


def _differs(field: str, mine: Any, chosen: Any) -> bool:
    if field == "phones":
        return bool(set(mine) - set(chosen or ()))
    return bool(mine != chosen)


def build_report(connection: sa.Connection, settings: SyncSettings,
                 *, needs_person_limit: int = 200) -> dict[str, Any]:
    owner = read_xref(connection)
    values = {gid: vals for gid, vals in connection.execute(
        sa.select(golden.c.global_id, golden.c["values"]))}
    systems: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "records": 0, "linked": 0, "discrepancies": Counter(), "gaps": Counter(),
        "records_to_fix": 0, "examples": []})
    for record in iter_records(connection):
        entry = systems[record.system]
        entry["records"] += 1
        gid = owner.get(record.key)
        chosen = values.get(gid) if gid else None
        if chosen is None:
            continue
        entry["linked"] += 1
        offered = candidate_values(record)
        differing = [f for f in COMPARED if offered[f] is not None and chosen.get(f) is not None
                     and _differs(f, offered[f], chosen.get(f))]
        gaps = [f for f in COMPARED if offered[f] is None and chosen.get(f) is not None
                and record.system != "docflow"]
        entry["discrepancies"].update(differing)
        entry["gaps"].update(gaps)
        if differing or gaps:
            entry["records_to_fix"] += 1
            if len(entry["examples"]) < EXAMPLES:
                entry["examples"].append({"record_id": record.record_id, "global_id": gid,
                                          "differs": differing, "missing": gaps})
    allowed = set(settings.write_back)
    per_system = {
        system: {**entry, "discrepancies": dict(entry["discrepancies"]),
                 "gaps": dict(entry["gaps"]), "write_back": system in allowed}
        for system, entry in sorted(systems.items())
    }
    conflicts = list_conflicts(connection, state="open", limit=needs_person_limit)
    open_by_kind: Counter[str] = Counter()
    open_by_system: Counter[str] = Counter()
    for stored in list_conflicts(connection, state="open", limit=10**9):
        open_by_kind[stored.conflict.kind] += 1
        open_by_system.update({s for s, _r in stored.conflict.records})
    for system, entry in per_system.items():
        entry["needs_person"] = open_by_system.get(system, 0)
    return {
        "systems": per_system,
        "open_conflicts": dict(open_by_kind),
        "needs_person": [{"conflict_id": c.conflict_id, "kind": c.conflict.kind,
                          "golden_id": c.conflict.global_id, "explanation": c.conflict.explanation,
                          "records": [f"{s}:{r}" for s, r in c.conflict.records]}
                         for c in conflicts],
    }


def _fields(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{field} {n}" for field, n in sorted(counts.items())) or "none"


def render_markdown(report: Mapping[str, Any]) -> str:
    lines = ["# Synchronizer discrepancy report", "",
             "| system | records | linked | to fix | discrepancies | gaps | write-back "
             "| needs a person |",
             "|---|---|---|---|---|---|---|---|"]
    for system, e in report["systems"].items():
        lines.append(f"| {system} | {e['records']} | {e['linked']} | {e['records_to_fix']} "
                     f"| {_fields(e['discrepancies'])} | {_fields(e['gaps'])} "
                     f"| {'yes' if e['write_back'] else 'no'} | {e['needs_person']} |")
    lines += ["", "## Needs a person", ""]
    lines += [f"- **{c['conflict_id']}** {c['kind']} ({', '.join(c['records'])}): "
              f"{c['explanation']}" for c in report["needs_person"]] or ["- nothing open"]
    return "\n".join(lines) + "\n"


def render_html(report: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(system)}</td><td>{e['records']}</td><td>{e['linked']}</td>"
        f"<td>{e['records_to_fix']}</td><td>{html.escape(_fields(e['discrepancies']))}</td>"
        f"<td>{html.escape(_fields(e['gaps']))}</td>"
        f"<td>{'yes' if e['write_back'] else 'no'}</td><td>{e['needs_person']}</td></tr>"
        for system, e in report["systems"].items())
    items = "".join(
        f"<li><b>{html.escape(c['conflict_id'])}</b> {html.escape(c['kind'])} "
        f"({html.escape(', '.join(c['records']))}): {html.escape(c['explanation'])}</li>"
        for c in report["needs_person"]) or "<li>nothing open</li>"
    return ("<!doctype html><html><head><meta charset=\"utf-8\">"
            "<title>Synchronizer discrepancy report</title></head><body>"
            "<h1>Synchronizer discrepancy report</h1><table border=\"1\"><tr><th>system</th>"
            "<th>records</th><th>linked</th><th>to fix</th><th>discrepancies</th><th>gaps</th>"
            "<th>write-back</th><th>needs a person</th></tr>"
            f"{rows}</table><h2>Needs a person</h2><ul>{items}</ul></body></html>\n")
