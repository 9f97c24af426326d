from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from adapters.staging.adapter import StagingAdapter
from adapters.staging.settings import StagingSettings
from bus.app import Bus
from tests.adapter_kit import adapters_on
from tests.conftest import BusFactory
from tests.services import require_postgres

StagingFactory = Callable[..., Awaitable[tuple[Bus, StagingAdapter]]]


class LegacyDatabase:
    """The legacy system's database with a staging table of accounts."""

    def __init__(self, url: str, table: str) -> None:
        self.url = url
        self.table = table
        self.engine = sa.create_engine(url)
        with self.engine.begin() as db:
            db.execute(sa.text(
                f"create table {table} (id integer primary key, account_no varchar(40), "
                "account_status varchar(20), balance varchar(40), tariff varchar(100), "
                "opened_at varchar(20), status varchar(10) not null default 'new', "
                "error text)"))

    def add(self, first: int, count: int, **values: Any) -> None:
        rows = [{"id": n, "account_no": f"ЛС-{n:08d}", "account_status": "active",
                 "balance": f"{n}.50", "tariff": "Базовый", "opened_at": "2019-03-31",
                 **values} for n in range(first, first + count)]
        with self.engine.begin() as db:
            db.execute(sa.text(
                f"insert into {self.table} (id, account_no, account_status, balance, tariff, "
                "opened_at) values (:id, :account_no, :account_status, :balance, :tariff, "
                ":opened_at)"), rows)

    def statuses(self) -> dict[int, tuple[str, str | None]]:
        with self.engine.connect() as db:
            return {row.id: (row.status, row.error) for row in db.execute(
                sa.text(f"select id, status, error from {self.table}"))}

    def execute(self, sql: str) -> None:
        with self.engine.begin() as db:
            db.execute(sa.text(sql))


@pytest.fixture(params=["sqlite", "postgres"])
def legacy(request: pytest.FixtureRequest, tmp_path: Path, unique: str
           ) -> Iterator[LegacyDatabase]:
    url = f"sqlite:///{tmp_path / 'legacy.db'}" if request.param == "sqlite" else (
        require_postgres())
    database = LegacyDatabase(url, f"{unique}_accounts")
    yield database
    if request.param == "postgres":
        database.execute(f"drop table if exists {database.table} cascade")
        database.execute(f"drop table if exists {database.table}_out")
    database.engine.dispose()


def staging_settings(legacy: LegacyDatabase, **values: Any) -> StagingSettings:
    values.setdefault("poll_interval", 0.05)
    return StagingSettings(url=legacy.url, table=legacy.table, **values)


@pytest.fixture
async def staging_on(make_bus: BusFactory) -> AsyncIterator[StagingFactory]:
    """A bus with the staging adapter built and started as the adapter host would."""
    async with adapters_on(make_bus, StagingAdapter) as starter:
        yield starter
