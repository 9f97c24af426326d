"""LANBilling on the bus: the adapter the ``esb.adapters`` entry point names.

Lifecycle: :meth:`BillingAdapter.start` creates the feed's tables and, in the
background, logs in (a failure is logged and shown in health, not fatal: the
feed keeps trying and handlers log in on demand) and runs the change feed;
:meth:`~BillingAdapter.stop` ends it and releases the HTTP pool.
:meth:`~BillingAdapter.check` is ``esb adapters check billing``: log in and
read one account holder.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from adapters.billing.client import BillingClient
from adapters.billing.feed import ChangeFeed
from adapters.billing.handlers import router
from adapters.billing.settings import BillingSettings
from bus.adapters import Adapter, AdapterManifest, AdapterSettings, Health
from bus.adapters.lifecycle import BackgroundWork, settings_of

if TYPE_CHECKING:
    from bus.app import Bus

__all__ = ["BillingAdapter"]

log = logging.getLogger(__name__)


class BillingAdapter(Adapter):
    manifest = AdapterManifest(
        name="billing", version="0.1.0",
        description="LANBilling over SOAP (api3.wsdl): account holders, balances, services",
        consumes=("billing.accounts.requested.v1", "sync.customer.updated.v1"),
        publishes=("billing.account.changed.v1", "billing.accounts.replied.v1"),
        settings=BillingSettings,
    )
    router = router

    def __init__(self, settings: AdapterSettings, bus: Bus) -> None:
        super().__init__(settings, bus)
        self.config = settings_of(self, settings, BillingSettings)
        self.client = BillingClient.from_settings(self.config)
        self.feed = ChangeFeed(bus, self.client, self.config, source=router.source)
        self.work = BackgroundWork()
        self._login_error: str | None = None

    def provide(self) -> dict[type, object]:
        return {BillingClient: self.client, BillingSettings: self.config}

    async def start(self) -> None:
        self.work.begin()
        await asyncio.to_thread(self.feed.state.create_tables)
        self.work.spawn(self._login(), "billing-login")  # a dead billing must not hold up the bus
        if self.config.export_on_start:
            self.work.spawn(self.feed.export(), "billing-export")
        if self.config.feed:
            self.work.spawn(self.feed.run(), "billing-feed")

    async def _login(self) -> None:
        try:
            await self.client.run(self.client.login)
            self._login_error = None
        except Exception as error:  # reported in health; calls log in again on demand
            self._login_error = f"{type(error).__name__}: {error}"
            log.error("billing: cannot log in to %s: %s", self.config.url, error)

    async def stop(self) -> None:
        await self.work.stop()
        await asyncio.to_thread(self.client.close)

    async def health(self) -> Health:
        breaker = self.client.breaker.state
        checks = {
            "url": self.config.url, "circuit": breaker, "feed": self.config.feed,
            "watermark": await asyncio.to_thread(self.feed.watermark, "accounts"),
            **self.feed.status(),
        }
        problem = (self.feed.last_error if self.config.feed else None) or (
            f"circuit {breaker}: {self.client.breaker.last_error}" if breaker != "closed"
            else None)
        if problem is None and self._login_error and self.feed.last_poll is None:
            problem = self._login_error
        if problem:
            return Health(ok=False, detail=problem, checks=checks)
        return Health(ok=True, detail=f"{self.feed.published} changes published", checks=checks)

    async def check(self) -> str:
        """Log in and read one account holder with the current settings."""
        client = self.client
        try:
            await client.run(client.login)
            first = await client.run(client.get_accounts, {"pgnum": 1, "pgsize": 1})
            if not first:
                return f"logged in to {self.config.url} as {self.config.login}; no holders"
            holder = await client.run(client.get_account, int(first[0]["account"]["uid"]))
        finally:
            if not self.work.started:  # a check from the CLI: leave no connection open
                await asyncio.to_thread(client.close)
        agreements = len(holder.get("agreements") or [])
        return (f"logged in to {self.config.url} as {self.config.login}; read holder "
                f"uid={holder['account']['uid']} with {agreements} agreement(s)")
