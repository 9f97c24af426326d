"""Files dropped into the watched folder: published whole and once, or rejected with a report."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.files.settings import FieldRule, FilesSettings, Profile
from tests.conftest import collector, eventually
from tests.files.conftest import ACCOUNTS_HEADER, FilesFactory, account_line, drop

pytestmark = pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)

SettingsMaker = Callable[..., FilesSettings]


async def test_csv_file_is_published_once_then_moved_and_a_redrop_publishes_nothing(
    files_on: FilesFactory, files_settings: SettingsMaker,
) -> None:
    settings = files_settings()
    listener, received = collector("billing.account.changed.v1")
    _, adapter = await files_on(settings, listener)
    content = ACCOUNTS_HEADER + account_line(1, "187.34") + account_line(2, "-5,50", "closed")
    drop(settings.inbox_path, "accounts-2026-11-26.csv", content)

    await eventually(lambda: len(received) == 2)
    by_number = {e.payload["account"]["number"]: e.payload["account"] for e in received}
    assert by_number["LS-00000001"]["balance"] == {"amount": "187.34", "currency": "RUB"}
    assert by_number["LS-00000002"]["balance"]["amount"] == "-5.50"
    assert by_number["LS-00000002"]["status"] == "closed"
    assert {e.key for e in received} == {"LS-00000001", "LS-00000002"}
    assert (settings.processed_path / "accounts-2026-11-26.csv").exists()
    assert not (settings.inbox_path / "accounts-2026-11-26.csv").exists()

    drop(settings.inbox_path, "accounts-again.csv", content)  # the same bytes, another name
    await eventually(lambda: any(p.name.startswith("accounts-again")
                                 for p in settings.processed_path.iterdir()))
    await asyncio.sleep(0.3)
    assert len(received) == 2
    assert [o.status for o in adapter.watcher.outcomes] == ["published", "duplicate"]


async def test_xml_file_with_a_custom_profile_is_published_once(
    files_on: FilesFactory, files_settings: SettingsMaker,
) -> None:
    payments = Profile(
        type="billing.balance.changed.v1",
        fields={"account_number": FieldRule(source="account", kind="identifier", required=True),
                "balance": FieldRule(source="balance", kind="money", required=True),
                "changed_at": FieldRule(source="paid_at", kind="timestamp", required=True)},
        constants={"reason": "payment"}, key="account_number", record="payment")
    settings = files_settings(profiles={"billing_accounts": FilesSettings().profiles[
        "billing_accounts"], "payments": payments})
    listener, received = collector("billing.balance.changed.v1")
    await files_on(settings, listener)
    xml = ('<?xml version="1.0" encoding="utf-8"?>\n<payments>'
           '<payment><account>ЛС-00000007</account><balance>100.00</balance>'
           '<paid_at>2026-11-26 10:00:00</paid_at></payment>'
           '<payment account="ЛС-00000008" paid_at="2026-11-26T11:00:00+03:00">'
           '<balance>12.5</balance></payment></payments>')
    drop(settings.inbox_path / "payments", "payments.xml", xml)

    await eventually(lambda: len(received) == 2)
    assert sorted((e.payload["account_number"], e.payload["balance"]["amount"])
                  for e in received) == [("LS-00000007", "100.00"), ("LS-00000008", "12.5")]
    assert sorted(e.payload["changed_at"] for e in received) == [
        "2026-11-26T10:00:00+00:00", "2026-11-26T11:00:00+03:00"]
    await eventually(lambda: (settings.processed_path / "payments.xml").exists())


async def test_half_written_file_is_not_read_before_it_stops_changing(
    files_on: FilesFactory, files_settings: SettingsMaker,
) -> None:
    settings = files_settings(stable_ms=700)
    listener, received = collector("billing.account.changed.v1")
    _, adapter = await files_on(settings, listener)
    target = settings.inbox_path / "growing.csv"  # written in place, against the convention
    with target.open("w", encoding="utf-8") as handle:
        handle.write(ACCOUNTS_HEADER + account_line(1))
        for number in range(2, 6):
            handle.write(account_line(number)[:20])  # a row cut in the middle
            handle.flush()
            await asyncio.sleep(0.15)
            handle.write(account_line(number)[20:])
            handle.flush()
    await eventually(lambda: len(received) == 5)
    assert [o.status for o in adapter.watcher.outcomes] == ["published"]
    assert not list(settings.rejected_path.iterdir())


async def test_file_with_bad_rows_is_rejected_whole_with_a_report_of_each_row(
    files_on: FilesFactory, files_settings: SettingsMaker,
) -> None:
    settings = files_settings()
    listener, received = collector("billing.account.changed.v1")
    _, adapter = await files_on(settings, listener)
    content = (ACCOUNTS_HEADER + account_line(1) + account_line(2, "lots")
               + account_line(3) + account_line(4, status="frozen")
               + ",,,,,,,,,active,1.00,\n")
    drop(settings.inbox_path, "bad.csv", content)

    await eventually(lambda: (settings.rejected_path / "bad.csv.report.txt").exists())
    report = (settings.rejected_path / "bad.csv.report.txt").read_text()
    assert "line 3: balance: is not a number" in report
    assert "line 5: " in report and "must be one of: active" in report
    assert "line 6: account_no: missing" in report
    assert "line 2:" not in report and "line 4:" not in report
    assert "179217421897" not in report  # no INN in a report
    assert (settings.rejected_path / "bad.csv").exists()
    await asyncio.sleep(0.3)
    assert received == []  # all or nothing: the good rows were not published either
    assert adapter.watcher.ledger.count() == 0


async def test_xml_with_an_external_entity_is_rejected_and_nothing_is_read(
    files_on: FilesFactory, files_settings: SettingsMaker, tmp_path: Path,
) -> None:
    settings = files_settings()
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    listener, received = collector("billing.account.changed.v1")
    await files_on(settings, listener)
    xml = (f'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file://{secret}">]>'
           '<accounts><account><account_no>&x;</account_no><status>active</status>'
           '<balance>1</balance></account></accounts>')
    drop(settings.inbox_path, "xxe.xml", xml)

    await eventually(lambda: (settings.rejected_path / "xxe.xml.report.txt").exists())
    report = (settings.rejected_path / "xxe.xml.report.txt").read_text()
    assert "DOCTYPE" in report
    assert "TOP-SECRET" not in report
    await asyncio.sleep(0.2)
    assert received == []


async def test_the_same_file_after_a_restart_publishes_nothing(
    files_on: FilesFactory, files_settings: SettingsMaker,
) -> None:
    settings = files_settings()
    listener, received = collector("billing.account.changed.v1")
    _, first = await files_on(settings, listener)
    content = ACCOUNTS_HEADER + account_line(1) + account_line(2)
    drop(settings.inbox_path, "nightly.csv", content)
    await eventually(lambda: len(received) == 2)
    await first.stop()

    _, second = await files_on(settings)  # a new process on the same bus database
    drop(settings.inbox_path, "nightly.csv", content)
    await eventually(lambda: [o.status for o in second.watcher.outcomes] == ["duplicate"])
    await asyncio.sleep(0.3)
    assert len(received) == 2
    assert len(list(settings.processed_path.glob("nightly*.csv"))) == 2
