"""``esb adapters check files``: the folders are there, readable and writable."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.files.adapter import FilesAdapter
from adapters.files.settings import FilesSettings
from tests.conftest import BusFactory


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_check_creates_and_probes_every_folder(make_bus: BusFactory,
                                                     tmp_path: Path) -> None:
    settings = FilesSettings(inbox=str(tmp_path / "in"), outbox=str(tmp_path / "out"),
                             outbound_types=["crm.customer.changed.v1"])
    adapter = FilesAdapter(settings, await make_bus(start=False))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "waiting.csv").write_text("account_no\n")
    result = await adapter.check()
    assert "1 file(s) waiting" in result and str(tmp_path / "out") in result
    assert (tmp_path / "in" / "processed").is_dir() and (tmp_path / "in" / "rejected").is_dir()


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_check_fails_clearly_when_a_folder_cannot_be_used(make_bus: BusFactory,
                                                                tmp_path: Path) -> None:
    (tmp_path / "out").write_text("a file where the outbox folder should be")
    settings = FilesSettings(inbox=str(tmp_path / "in"), outbox=str(tmp_path / "out"),
                             outbound_types=["crm.customer.changed.v1"])
    adapter = FilesAdapter(settings, await make_bus(start=False))
    with pytest.raises(OSError):
        await adapter.check()


def test_adapter_is_disabled_without_an_inbox() -> None:
    assert FilesSettings().enabled is False
    assert FilesSettings(inbox="/srv/exchange").enabled is True
    with pytest.raises(ValueError, match="INBOX is required"):
        FilesSettings(enabled=True)
