"""Who a single change can touch: the documents a scoped result must find.

A full :meth:`~sync.match.Matcher.result` labels every document through a
dictionary built over every record. A single change needs the same answers for
a few customers only, so :class:`LabelIndex` keeps them the other way round:
documents by the account and by the INN they cite (the records holding an INN
are found through its blocking key). It is built on the first change (never in
a full run, which does not need it) and then kept current record by record.
"""

from __future__ import annotations

from collections.abc import Iterable

from sync.normalize.record import NormalizedRecord

__all__ = ["LabelIndex"]


def _add(table: dict[str, set[int]], value: str | None, idx: int) -> None:
    if value is not None:
        table.setdefault(value, set()).add(idx)


def _discard(table: dict[str, set[int]], value: str | None, idx: int) -> None:
    if value is not None and (held := table.get(value)) is not None:
        held.discard(idx)
        if not held:
            del table[value]


class LabelIndex:
    """Documents by account reference and by INN."""

    __slots__ = ("_by_account", "_by_inn")

    def __init__(self, documents: Iterable[tuple[int, NormalizedRecord]]) -> None:
        self._by_account: dict[str, set[int]] = {}
        self._by_inn: dict[str, set[int]] = {}
        for idx, document in documents:
            self.add(idx, document)

    def add(self, idx: int, document: NormalizedRecord) -> None:
        _add(self._by_account, document.account_ref, idx)
        _add(self._by_inn, document.inn, idx)

    def discard(self, idx: int, document: NormalizedRecord) -> None:
        _discard(self._by_account, document.account_ref, idx)
        _discard(self._by_inn, document.inn, idx)

    def documents(self, account_ref: str | None, inn: str | None) -> set[int]:
        """The documents that cite this account or this INN."""
        found: set[int] = set()
        if account_ref is not None:
            found |= self._by_account.get(account_ref, set())
        if inn is not None:
            found |= self._by_inn.get(inn, set())
        return found
