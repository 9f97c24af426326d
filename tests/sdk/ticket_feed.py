"""A small change feed built from the SDK pieces, to prove them: tickets of a help desk.

The help desk (:class:`HelpDesk`) is the external system: it keeps tickets with
a modification counter and answers "what changed since N". :class:`TicketFeed`
polls it with :class:`~bus.adapters.feed.PollingFeed` and stages each changed
ticket through the outbox with :mod:`bus.adapters.feedstate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from bus.adapters.feed import PollingFeed
from bus.adapters.feedstate import (
    PublishedLedger,
    Watermarks,
    ledger_table,
    watermark_table,
)
from bus.app import Bus
from bus.db import ensure_tables
from bus.delivery.outbox import add_to_outbox
from bus.envelope import Envelope

EVENT = "test.thing.happened.v1"
METADATA = sa.MetaData()
marks = watermark_table("sdk_test_ticket_marks", METADATA)
published = ledger_table("sdk_test_ticket_published", METADATA,
                         sa.Column("ticket", sa.String(64), primary_key=True),
                         sa.Column("version", sa.Integer, nullable=False))


@dataclass
class Ticket:
    id: str
    title: Any
    version: int


class HelpDesk:
    """The external system: tickets, each change numbered by a desk-wide counter."""

    def __init__(self) -> None:
        self.tickets: dict[str, Ticket] = {}
        self.counter = 0
        self.down = False

    def write(self, ticket_id: str, title: Any) -> None:
        self.counter += 1
        self.tickets[ticket_id] = Ticket(ticket_id, title, self.counter)

    def changed_since(self, version: int) -> list[Ticket]:
        if self.down:
            raise ConnectionError("help desk does not answer")
        return sorted((t for t in self.tickets.values() if t.version > version),
                      key=lambda t: t.version)


@dataclass
class TicketSettings:
    poll_interval: float = 0.05


class TicketFeed(PollingFeed[TicketSettings]):
    system = "help desk"

    def __init__(self, bus: Bus, desk: HelpDesk, settings: TicketSettings) -> None:
        super().__init__(bus, settings, source="helpdesk")
        self.desk = desk
        self.marks = Watermarks(marks, prefix="tickets")
        self.ledger = PublishedLedger(published, key="ticket", value="version")
        ensure_tables(METADATA, bus.engine)

    async def pass_once(self) -> int:
        since = self.marks.read(self.bus.engine, "version")
        return len(self.stage(self.desk.changed_since(int(since or 0))))

    def stage(self, tickets: Sequence[Ticket]) -> list[Envelope]:
        staged: list[Envelope] = []
        with self.bus.engine.begin() as db:
            self.marks.take_turn(db)
            known = self.ledger.known(db, [t.id for t in tickets])
            for ticket in tickets:
                if known.get(ticket.id, 0) >= ticket.version:
                    continue
                envelope = self.checked(Envelope(type=EVENT, source=self.source, key=ticket.id,
                                                 payload={"n": ticket.title}),
                                        f"ticket {ticket.id}")
                if envelope is None:
                    continue
                add_to_outbox(db, envelope)
                self.ledger.remember(db, ticket.id, ticket.version, exists=ticket.id in known)
                staged.append(envelope)
            if tickets:
                self.marks.put(db, "version", str(max(t.version for t in tickets)))
        return staged
