"""Canonical messages written as files into the outbox folder, once per message."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.files.settings import FilesSettings
from bus.schema import envelope_from_xml
from tests.conftest import collector, eventually
from tests.files.conftest import FilesFactory

pytestmark = pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)

BALANCE = {"account_number": "LS-00000001", "balance": {"amount": "10.00", "currency": "RUB"},
           "reason": "payment", "changed_at": "2026-11-26T10:00:00Z"}


def written(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


@pytest.mark.parametrize("file_format", ["xml", "csv"])
async def test_each_message_is_written_once_as_a_file(
    files_on: FilesFactory, files_settings: Callable[..., FilesSettings], tmp_path: Path,
    file_format: str,
) -> None:
    outbox = tmp_path / "outbox"
    settings = files_settings(outbox=str(outbox), outbound_types=["billing.balance.changed.v1"],
                              outbound_format=file_format)
    listener, seen = collector("billing.balance.changed.v1")
    bus, adapter = await files_on(settings, listener)
    first = await bus.emit("billing.balance.changed.v1", BALANCE, source="test")
    await bus.emit("billing.balance.changed.v1", {**BALANCE, "reason": "charge"}, source="test")
    await eventually(lambda: len(written(outbox)) == 2 and len(seen) == 2)

    await bus.publish(first)  # the same message again: its file is there already
    await asyncio.sleep(0.3)
    files = written(outbox)
    assert len(files) == 2
    mine = adapter.writer.path_of(first)
    assert mine in files and mine.name.endswith(f".{file_format}")
    if file_format == "xml":
        envelope = envelope_from_xml(mine.read_bytes())
        assert envelope["id"] == first.id and envelope["payload"] == BALANCE
    else:
        [row] = list(csv.DictReader(mine.read_text(encoding="utf-8").splitlines()))
        assert row["message_id"] == first.id
        assert row["balance.amount"] == "10.00" and row["reason"] == "payment"
