"""What the change feed remembers, in the bus database: watermarks and what it published.

* ``esb_billing_watermarks``: per source (``accounts`` = holders' ``lastmoddate``,
  ``payments`` = ``paydate``) the point the next poll starts from;
* ``esb_billing_published``: per agreement, a short hash of each canonical field
  as last published. A record read again (the overlap before a watermark, a
  restart mid-poll, a second process running the feed) is published only if a
  field really changed, and ``changed_fields`` names those fields.

:meth:`FeedState.stage` adds the events to the transactional outbox in the
same transaction that records their hashes (and, for the last page of a poll,
advances the watermark): a change is published exactly once across restarts.
The transaction starts by updating a lock row, so feeds in several processes
take turns instead of publishing the same change twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from bus.adapters.feedstate import (
    PublishedLedger,
    Watermarks,
    ledger_table,
    watermark_table,
)
from bus.db import ensure_tables
from bus.delivery.outbox import add_to_outbox
from bus.envelope import Envelope

__all__ = ["METADATA", "FeedState", "field_hashes"]

METADATA = sa.MetaData()
"""The adapter's own tables, created on start in the bus database."""

watermarks = watermark_table("esb_billing_watermarks", METADATA)
published = ledger_table("esb_billing_published", METADATA,
                         sa.Column("account_id", sa.String(128), primary_key=True),
                         sa.Column("fields", sa.JSON, nullable=False))

EVENT = "billing.account.changed.v1"
_UNCOMPARED = {"updated_at", "customer.updated_at"}


def field_hashes(payload: Mapping[str, Any]) -> dict[str, str]:
    """Canonical field -> 12-hex hash, for ``account`` and ``customer.*`` (not updated_at)."""
    fields = dict(payload["account"])
    fields.update({f"customer.{k}": v for k, v in (payload.get("customer") or {}).items()})
    return {name: hashlib.blake2b(orjson.dumps(value, option=orjson.OPT_SORT_KEYS),
                                  digest_size=6).hexdigest()
            for name, value in fields.items() if name not in _UNCOMPARED}


class FeedState:
    def __init__(self, engine: sa.Engine, prefix: str = "billing") -> None:
        self.engine = engine
        self.watermarks = Watermarks(watermarks, prefix=prefix)
        self.ledger = PublishedLedger(published, key="account_id", value="fields")

    def create_tables(self) -> None:
        ensure_tables(METADATA, self.engine)

    def watermark(self, source: str) -> str | None:
        return self.watermarks.read(self.engine, source)

    def stage(
        self, payloads: Sequence[Mapping[str, Any]], build: Any,
        advance: Mapping[str, str] | None = None, *, initial: bool = False,
    ) -> list[Envelope]:
        """Stage the payloads that changed since last published; returns their envelopes.

        ``build(payload) -> Envelope | None`` makes (and validates) each envelope, None
        skipping a payload that cannot be published (it is tried again next poll);
        ``initial`` (no watermark yet) marks first sightings as updates of
        existing accounts rather than creations.
        """
        staged: list[Envelope] = []
        with self.engine.begin() as db:
            self.watermarks.take_turn(db)
            known = {account_id: _fields(value) for account_id, value in self.ledger.known(
                db, [str(p["account"]["id"]) for p in payloads]).items()}
            for payload in payloads:
                account_id = str(payload["account"]["id"])
                fields = field_hashes(payload)
                before = known.get(account_id)
                if before == fields:
                    continue
                event = {**payload, "change": "updated" if before or initial else "created"}
                if before is not None:
                    event["changed_fields"] = sorted(
                        name for name in fields.keys() | before.keys()
                        if fields.get(name) != before.get(name))
                envelope = build(event)
                if envelope is None:
                    continue
                add_to_outbox(db, envelope)
                self.ledger.remember(db, account_id, fields, exists=account_id in known)
                known[account_id] = fields
                staged.append(envelope)
            for source, value in (advance or {}).items():
                self.watermarks.put(db, source, value)
        return staged


def _fields(stored: Any) -> dict[str, str]:
    """The stored field hashes (a JSON column some drivers hand back as text)."""
    return stored if isinstance(stored, dict) else dict(orjson.loads(stored))
