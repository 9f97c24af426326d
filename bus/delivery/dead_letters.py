"""Dead-letter records: every message the bus gave up on, with why, and its replay.

The transports move a failed message to ``<queue>.dlq`` with the reason in
its headers; the bus drains those queues into this table (so a record
survives the broker and can be searched), keeping the original body and
headers, the reason, the stack summary, the attempt count and the time. A
message already waiting there (same queue and id, not replayed) is not recorded
again: a publisher's retry or a redelivery after the death makes one record.

Replay stages the original (or an edited body) in the outbox, addressed to
the queue it failed in, and flips the record from ``dead`` to ``replayed`` in
the same transaction: two operators pressing replay at once publish it once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from bus.db import METADATA, insert_or_ignore
from bus.delivery.outbox import stage_message
from bus.transport import ATTEMPT_HEADER, DEATH_HEADERS, Delivery

__all__ = ["DeadLetter", "DeadLetterStore", "NotReplayable", "dead_letters"]

REPLAYED_HEADER = "x-esb-replay-of"

dead_letters = sa.Table(
    "esb_dead_letters",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(64), nullable=False, index=True),
    sa.Column("queue", sa.String(200), nullable=False, index=True),
    sa.Column("type", sa.String(200), nullable=False, index=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("dead_lettered_at", sa.Float, nullable=False, index=True),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("headers", sa.JSON, nullable=False),
    sa.Column("correlation_id", sa.String(64)),
    sa.Column("status", sa.String(20), nullable=False, default="dead"),
    sa.Column("replayed_at", sa.Float),
    sa.Column("replayed_by", sa.String(200)),
    sa.Column("edited", sa.Boolean, nullable=False, default=False),
    sa.Column("replayed_body", sa.LargeBinary),  # the edited message actually sent (audit)
    sa.UniqueConstraint("queue", "message_id", "dead_lettered_at", name="uq_dead_letter"),
)


class NotReplayable(Exception):
    """The record is missing or was replayed already."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    message_id: str
    queue: str
    type: str
    reason: str
    error: str
    attempts: int
    dead_lettered_at: float
    body: bytes
    headers: dict[str, Any]
    correlation_id: str | None
    status: str
    replayed_at: float | None
    replayed_by: str | None
    edited: bool
    replayed_body: bytes | None

    def to_json(self, *, with_body: bool = False) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__slots__
                if name not in ("body", "replayed_body")}
        if with_body:
            data["body"] = self.body.decode("utf-8", errors="replace")
            if self.replayed_body is not None:
                data["replayed_body"] = self.replayed_body.decode("utf-8", errors="replace")
        data["size"] = len(self.body)
        return data


class DeadLetterStore:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def record(self, delivery: Delivery) -> None:
        """Store a message drained from a ``.dlq`` queue."""
        headers = {str(k): _plain(v) for k, v in delivery.headers.items()}
        failed_queue = str(
            headers.get(DEATH_HEADERS["queue"]) or delivery.queue.removesuffix(".dlq")
        )
        at = float(headers.get(DEATH_HEADERS["at"]) or time.time())
        with self.engine.begin() as connection:
            if _still_dead(connection, failed_queue, delivery.message_id):
                return  # a duplicate (republished, or redelivered after its death) dies once
            insert_or_ignore(connection, dead_letters, [dict(
                    message_id=delivery.message_id,
                    queue=failed_queue,
                    type=delivery.type or delivery.routing_key,
                    reason=str(headers.get(DEATH_HEADERS["reason"]) or "rejected by consumer"),
                    error=str(headers.get(DEATH_HEADERS["error"]) or ""),
                    attempts=int(headers.get(ATTEMPT_HEADER, 1)),
                    dead_lettered_at=at,
                    body=delivery.body,
                    headers=headers,
                    correlation_id=delivery.correlation_id,
                    status="dead",
                    edited=False,
            )])

    def list(
        self, *, queue: str | None = None, status: str | None = "dead",
        type_prefix: str | None = None, limit: int = 100,
    ) -> list[DeadLetter]:
        query = sa.select(dead_letters).order_by(dead_letters.c.id.desc()).limit(limit)
        if queue:
            query = query.where(dead_letters.c.queue == queue)
        if status:
            query = query.where(dead_letters.c.status == status)
        if type_prefix:
            query = query.where(dead_letters.c.type.startswith(type_prefix))
        with self.engine.connect() as connection:
            return [_to_record(row) for row in connection.execute(query)]

    def get(self, record_id: int) -> DeadLetter | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(dead_letters).where(dead_letters.c.id == record_id)
            ).first()
        return _to_record(row) if row is not None else None

    def replay(self, record_id: int, *, by: str, body: bytes | None = None) -> DeadLetter:
        """Send the message back to its queue, once. ``body`` replaces the original."""
        with self.engine.begin() as connection:
            flipped = connection.execute(
                dead_letters.update()
                .where(dead_letters.c.id == record_id, dead_letters.c.status == "dead")
                .values(status="replayed", replayed_at=time.time(), replayed_by=by,
                        edited=body is not None, replayed_body=body)
            )
            if flipped.rowcount != 1:
                raise NotReplayable(f"dead letter {record_id} is missing or already replayed")
            row = connection.execute(
                sa.select(dead_letters).where(dead_letters.c.id == record_id)
            ).one()
            record = _to_record(row)
            headers = {
                k: v for k, v in record.headers.items()
                if k not in DEATH_HEADERS.values() and k != ATTEMPT_HEADER
            }
            headers[REPLAYED_HEADER] = str(record.id)
            stage_message(connection, record.message_id, record.type,
                          body if body is not None else record.body,
                          record.queue, headers, record.correlation_id)
        return record

    def count(self, status: str = "dead") -> int:
        with self.engine.connect() as connection:
            return int(connection.scalar(
                sa.select(sa.func.count()).select_from(dead_letters)
                .where(dead_letters.c.status == status)
            ) or 0)


def _still_dead(connection: sa.Connection, queue: str, message_id: str) -> bool:
    """Whether this message already waits in ``queue``'s dead letters, not yet replayed:
    an operator replays a message once, however many copies of it died."""
    found = connection.execute(
        sa.select(dead_letters.c.id).where(
            dead_letters.c.queue == queue,
            dead_letters.c.message_id == message_id,
            dead_letters.c.status == "dead",
        ).limit(1)
    ).first()
    return found is not None


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _to_record(row: sa.Row[Any]) -> DeadLetter:
    return DeadLetter(**{column: getattr(row, column) for column in DeadLetter.__slots__})
