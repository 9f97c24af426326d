"""The CRM simulator seeded from a datagen directory, read through both dialects."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from adapters.crm.bitrix.client import Bitrix24Client
from adapters.crm.bitrix.gateway import Bitrix24Crm
from adapters.crm.bitrix.ledger import CallLedger
from adapters.crm.client import CrmClient
from adapters.crm.mapping import e164
from adapters.crm.own import OwnCrm
from adapters.crm.simdata import CrmData
from adapters.crm.simulator import CrmSimulator

GENERATOR = Path(__file__).resolve().parents[3] / "shared" / "datagen" / "generate.py"


@pytest.fixture(scope="module")
def datagen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not GENERATOR.is_file():
        pytest.skip(f"no data generator at {GENERATOR}")
    out = tmp_path_factory.mktemp("datagen")
    subprocess.run([sys.executable, str(GENERATOR), "--customers", "40", "--seed", "11",
                    "--out", str(out)], check=True, capture_output=True)
    return out


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


async def test_a_datagen_customer_is_found_by_phone_the_same_in_both_dialects(
    datagen: Path,
) -> None:
    people = [r for r in rows(datagen / "crm_customers.csv")
              if r["kind"] == "person" and r["manager_id"]]
    managers = {r["manager_id"]: r for r in rows(datagen / "managers.csv")}
    row = people[0]
    phone = e164(row["phone"])
    assert phone is not None
    with CrmSimulator(CrmData.from_directory(datagen)) as sim:
        own = OwnCrm(CrmClient(sim.url, sim.token, timeout=2.0))
        bitrix = Bitrix24Crm(Bitrix24Client(sim.url, sim.bitrix_webhook, timeout=2.0),
                             CallLedger(sa.create_engine("sqlite://")))
        try:
            [ours] = [c for c in await own.find_by_phone(phone) if c["id"] == row["crm_id"]]
            theirs = await bitrix.find_by_phone(phone)
            card = await own.card(row["crm_id"])
        finally:
            await own.close()
            await bitrix.close()
    last_name = row["full_name"].split(" ")[0]
    assert ours["person"]["last_name"] == last_name
    assert any(c["person"]["last_name"] == last_name for c in theirs if "person" in c)
    assert card["manager"]["extension"] == managers[row["manager_id"]]["extension"]
    assert card["segment"] == ("vip" if row["segment"] == "vip" else "consumer")
