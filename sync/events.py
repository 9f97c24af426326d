"""The payloads of what the synchronizer publishes (``sync.customer.*.v1``, ``sync.conflict.*``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from sync.canonical import golden_customer
from sync.golden import GoldenRecord
from sync.model import PairEvidence, RecordKey
from sync.store.identity import Merge, Move, Split
from sync.store.queue import StoredConflict

__all__ = [
    "confidence",
    "conflict_raised",
    "customer_linked",
    "customer_merged",
    "customer_split",
    "customer_updated",
    "link_reason",
    "link_reasons",
    "matched_on",
    "spoke_for",
]

_MATCHED_ON = (("inn", "inn"), ("passport", "passport"), ("phone", "phone"),
               ("mobile", "phone"), ("landline", "phone"), ("email", "email"),
               ("birth", "name_birth_date"), ("name", "name_birth_date"),
               ("surname", "name_birth_date"), ("account", "account"), ("must-link", "manual"))


def _ref(key: RecordKey) -> dict[str, str]:
    return {"system": key[0], "id": key[1]}


def matched_on(evidence: PairEvidence | None) -> list[str]:
    """The merged-event vocabulary for the fields that spoke for a link."""
    if evidence is None:
        return []
    fields = [name for name, weight in evidence.weights.items() if weight > 0]
    if evidence.rule:
        fields.append(evidence.rule)
    found: list[str] = []
    for name in fields:
        for needle, label in _MATCHED_ON:
            if needle in name and label not in found:
                found.append(label)
    return found


def confidence(evidence: PairEvidence | None) -> float | None:
    """The link's score (log2 odds) as a probability."""
    if evidence is None:
        return None
    return round(1.0 / (1.0 + math.pow(2.0, -max(min(evidence.score, 60.0), -60.0))), 6)


def link_reason(evidence: PairEvidence | None, spoke: str | None = None) -> str:
    """Why a record is where it is; ``spoke``: :func:`spoke_for` of its weights, if known."""
    if evidence is None:
        return "alone: no other record matched"
    fields = spoke_for(evidence.weights) if spoke is None else spoke
    rule = f"{evidence.rule}; " if evidence.rule else ""
    return f"{rule}score {evidence.score:.1f}" + (f" on {fields}" if fields else "")


def spoke_for(weights: Mapping[str, float]) -> str:
    """The (at most four) fields that spoke most for a link, strongest first."""
    spoke = sorted((w, f) for f, w in weights.items() if w > 0)[::-1][:4]
    return ", ".join(f for _w, f in spoke)


def link_reasons(moves: Iterable[Move], evidence: Mapping[RecordKey, PairEvidence]
                 ) -> dict[RecordKey, str]:
    """:func:`link_reason` of each move's record, worked out once per link (a link
    explains both its records), and its fields once per weights (the engine's links
    share them: :class:`sync.match.evidence.SharedWeights`)."""
    by_link: dict[int, str] = {}
    by_weights: dict[int, str] = {}  # the links hold the weights while this runs
    reasons: dict[RecordKey, str] = {}
    for move in moves:
        link = evidence.get(move.key)
        if link is None:
            reasons[move.key] = link_reason(None)
            continue
        reason = by_link.get(id(link))
        if reason is None:
            spoke = by_weights.get(id(link.weights))
            if spoke is None:
                spoke = by_weights[id(link.weights)] = spoke_for(link.weights)
            reason = by_link[id(link)] = link_reason(link, spoke)
        reasons[move.key] = reason
    return reasons


def customer_linked(move: Move, evidence: PairEvidence | None, reason: str) -> dict[str, Any]:
    return {"golden_id": move.global_id, "record": _ref(move.key),
            "previous_golden_id": move.previous, "reason": reason[:256],
            "matched_on": matched_on(evidence), "confidence": confidence(evidence)}


def customer_merged(merge: Merge, golden: GoldenRecord, evidence: Iterable[PairEvidence | None]
                    ) -> dict[str, Any]:
    labels: list[str] = []
    for item in evidence:
        labels.extend(x for x in matched_on(item) if x not in labels)
    return {"golden_id": merge.global_id, "retired_ids": list(merge.retired),
            "customer": golden_customer(golden), "sources": [_ref(k) for k in golden.sources],
            "matched_on": labels}


def customer_split(split: Split, reason: str, actor: str | None) -> dict[str, Any]:
    return {"golden_id": split.global_id, "reason": reason[:256], "decided_by": actor,
            "parts": [{"golden_id": gid, "sources": [_ref(k) for k in keys]}
                      for gid, keys in split.parts.items()]}


def customer_updated(golden: GoldenRecord, changed: Iterable[str], write_back: Iterable[str]
                     ) -> dict[str, Any]:
    """Addressed to the records of systems that may be written back (none by default)."""
    allowed = set(write_back)
    return {"golden_id": golden.global_id, "customer": golden_customer(golden),
            "changed_fields": sorted(changed),
            "sources": [_ref(k) for k in golden.sources if k[0] in allowed]}


def conflict_raised(stored: StoredConflict) -> dict[str, Any]:
    c = stored.conflict
    return {"conflict_id": stored.conflict_id, "kind": c.kind, "golden_id": c.global_id,
            "records": [_ref(k) for k in c.records], "explanation": c.explanation[:20000],
            "score": c.score, "evidence": [{"field": f, "weight": float(w)}
                                           for f, w in sorted(c.weights.items())]}


def evidence_by_record(links: Iterable[PairEvidence]) -> Mapping[RecordKey, PairEvidence]:
    """For each record, the strongest accepted link that touches it."""
    best: dict[RecordKey, PairEvidence] = {}
    for link in links:
        for key in (link.left, link.right):
            current = best.get(key)
            if current is None or link.score > current.score:
                best[key] = link
    return best
