"""Record linkage: blocking, pair scoring, clustering that honours people's decisions.

``reconcile(records)`` is the full run; :class:`Matcher` keeps the state for
incremental changes (one record re-scored against its blocks only).
"""

from __future__ import annotations

from collections.abc import Iterable

from sync.match.collector import collector_paused
from sync.match.matcher import Matcher
from sync.match.scoring import score_pair
from sync.match.settings import MatchSettings, Weights
from sync.model import Decisions, Reconciliation, SourceRecord

__all__ = ["MatchSettings", "Matcher", "Weights", "collector_paused", "reconcile", "score_pair"]


def reconcile(
    records: Iterable[SourceRecord],
    settings: MatchSettings | None = None,
    decisions: Decisions = Decisions(),  # noqa: B008 - frozen, never mutated
) -> Reconciliation:
    """Cluster ``records`` into customers (see :class:`Matcher`)."""
    return Matcher(settings, decisions).add_all(records).result()
