"""Field weights of a pair, held once per distinct answer or worked out when read.

A full run keeps one :class:`~sync.model.PairEvidence` per accepted pair (about
one per record); holding every pair's field dict would cost more memory than the
records themselves. But the weights are the engine's constants, so a million
links say one of a few hundred distinct ``{field: weight}`` answers:
:class:`SharedWeights` hands every link the one :class:`FieldWeights` of its
answer, computed when the pair was scored, and the write stage reads it without
scoring the pair again. Past :data:`SHARED_LIMIT` distinct answers (weights that
are not constants) a link keeps its two normalized records instead and scores
them again on first read; the records are immutable values, so the answer is the
one the engine decided on.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView

from sync.match.scoring import score_pair
from sync.match.settings import Weights
from sync.normalize.record import NormalizedRecord

__all__ = ["SHARED_LIMIT", "FieldWeights", "SharedWeights"]

SHARED_LIMIT = 8192
"""Distinct answers :class:`SharedWeights` holds; links past them score again when read."""


class FieldWeights(Mapping[str, float]):
    """A read-only ``{field: weight}`` mapping, given or computed on first access."""

    __slots__ = ("_a", "_b", "_data", "_weights")

    def __init__(self, a: NormalizedRecord | None, b: NormalizedRecord | None,
                 weights: Weights | None, data: dict[str, float] | None = None) -> None:
        self._a, self._b, self._weights = a, b, weights
        self._data = data

    @classmethod
    def given(cls, data: dict[str, float]) -> FieldWeights:
        """The weights in ``data`` (which nobody changes after)."""
        return cls(None, None, None, data)

    def _fields(self) -> dict[str, float]:
        if self._data is None:
            assert self._a is not None and self._b is not None and self._weights is not None
            self._data = score_pair(self._a, self._b, self._weights)[1]
        return self._data

    def __getitem__(self, field: str) -> float:
        return self._fields()[field]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields())

    def __len__(self) -> int:
        return len(self._fields())

    def items(self) -> ItemsView[str, float]:
        return self._fields().items()

    def keys(self) -> KeysView[str]:
        return self._fields().keys()

    def values(self) -> ValuesView[float]:
        return self._fields().values()

    def __repr__(self) -> str:
        return repr(self._fields())


class SharedWeights:
    """One :class:`FieldWeights` per distinct answer of one engine's links."""

    __slots__ = ("_known", "_limit")

    def __init__(self, limit: int = SHARED_LIMIT) -> None:
        self._known: dict[tuple[tuple[str, float], ...], FieldWeights] = {}
        self._limit = limit

    def of(self, a: NormalizedRecord, b: NormalizedRecord, weights: Weights,
           fields: dict[str, float]) -> FieldWeights:
        """The weights ``fields`` that ``score_pair(a, b, weights)`` answered."""
        answer = tuple(fields.items())
        shared = self._known.get(answer)
        if shared is None:
            if len(self._known) >= self._limit:
                return FieldWeights(a, b, weights)
            shared = self._known[answer] = FieldWeights.given(fields)
        return shared
