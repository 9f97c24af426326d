from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.files.adapter import FilesAdapter
from adapters.files.settings import FilesSettings
from bus.app import Bus
from tests.adapter_kit import adapters_on
from tests.conftest import BusFactory

FilesFactory = Callable[..., Awaitable[tuple[Bus, FilesAdapter]]]

ACCOUNTS_HEADER = ("account_no,holder_name,inn,passport,birth_date,phone,city,address,"
                   "opened_at,status,balance,tariff\n")


def account_line(number: int, balance: str = "187.34", status: str = "active") -> str:
    return (f"ЛС-{number:08d},Самойлов Василий Петрович,179217421897,7712 №574999,1956-07-25,"
            f"9907562339,Нижний Новгород,Нижегородская,"
            f"2019-03-31,{status},\"{balance}\",Базовый\n")


def drop(folder: Path, name: str, content: str | bytes) -> Path:
    """Write-then-rename, as producers are told to."""
    data = content.encode() if isinstance(content, str) else content
    temporary = folder / f".{name}.part"
    temporary.write_bytes(data)
    target = folder / name
    temporary.rename(target)
    return target


@pytest.fixture
def files_settings(tmp_path: Path) -> Callable[..., FilesSettings]:
    def make(**values: Any) -> FilesSettings:
        values.setdefault("inbox", str(tmp_path / "inbox"))
        values.setdefault("poll_interval", 0.05)
        values.setdefault("stable_ms", 100)
        return FilesSettings(**values)
    return make


@pytest.fixture
async def files_on(make_bus: BusFactory) -> AsyncIterator[FilesFactory]:
    """A bus with the files adapter built and started as the adapter host would."""
    async with adapters_on(make_bus, FilesAdapter) as starter:
        yield starter
