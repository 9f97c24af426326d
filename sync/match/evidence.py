"""Field weights of a pair, worked out when someone reads them.

A full run keeps one :class:`~sync.model.PairEvidence` per accepted pair (about
one per record); holding every pair's field dict would cost more memory than the
records themselves. :class:`FieldWeights` keeps the two normalized records and
scores them again on first read; the records are immutable values, so the
answer is the one the engine decided on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from sync.match.scoring import score_pair
from sync.match.settings import Weights
from sync.normalize.record import NormalizedRecord

__all__ = ["FieldWeights"]


class FieldWeights(Mapping[str, float]):
    """A read-only ``{field: weight}`` mapping computed on first access."""

    __slots__ = ("_a", "_b", "_data", "_weights")

    def __init__(self, a: NormalizedRecord, b: NormalizedRecord, weights: Weights) -> None:
        self._a, self._b, self._weights = a, b, weights
        self._data: dict[str, float] | None = None

    def _fields(self) -> dict[str, float]:
        if self._data is None:
            self._data = score_pair(self._a, self._b, self._weights)[1]
        return self._data

    def __getitem__(self, field: str) -> float:
        return self._fields()[field]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields())

    def __len__(self) -> int:
        return len(self._fields())

    def __repr__(self) -> str:
        return repr(self._fields())
