"""The adapter built in docs/adding-a-system.md: tells a manager by SMS about a missed call.

Everything an adapter has, in one file for the guide; a real one splits it
into settings.py, client.py, mapping.py, handlers.py and adapter.py.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from bus.adapters import Adapter, AdapterManifest, AdapterSettings, Health
from bus.envelope import Envelope
from bus.errors import ExternalSystemRejected, ExternalSystemUnavailable
from bus.router import Router


class NotifierSettings(AdapterSettings):
    """``ESB_NOTIFIER__URL``, ``ESB_NOTIFIER__TOKEN``, ``ESB_NOTIFIER__SENDER``."""

    model_config = SettingsConfigDict(env_prefix="ESB_NOTIFIER__", env_nested_delimiter="__")

    url: str = ""
    token: SecretStr = SecretStr("")
    sender: str = "ESB"


class SmsClient:
    """The only code that speaks the SMS gateway's HTTP API."""

    def __init__(self, settings: NotifierSettings) -> None:
        self.settings = settings
        token = settings.token.get_secret_value()
        self.http = httpx.AsyncClient(
            base_url=settings.url, timeout=5.0,
            headers={"Authorization": f"Bearer {token}"} if token else {},
        )

    async def send(self, to: str, text: str, *, idempotency_key: str) -> None:
        try:
            reply = await self.http.post("/messages", headers={"Idempotency-Key": idempotency_key},
                                         json={"from": self.settings.sender, "to": to,
                                               "text": text})
        except httpx.HTTPError as error:
            raise ExternalSystemUnavailable(f"SMS gateway unreachable: {error}") from error
        if reply.status_code >= 500:
            raise ExternalSystemUnavailable(f"SMS gateway answered {reply.status_code}")
        if reply.status_code >= 400:
            raise ExternalSystemRejected(f"SMS gateway refused: {reply.text[:200]}")


def missed_call_text(call: dict[str, Any]) -> str | None:
    """Mapping, pure: the SMS for a missed call from a known number, else None."""
    if call["disposition"] not in ("missed", "abandoned") or not call["caller_number"]:
        return None
    return f"Missed call from {call['caller_number']} at {call['started_at'][11:16]} UTC"


router = Router(source="notifier")


@router.subscriber("notifier.missed-calls", "pbx.call.ended.v1")
async def notify_missed_call(envelope: Envelope, sms: SmsClient) -> None:
    """Tells the first phone that rang about a call nobody took."""
    text = missed_call_text(dict(envelope.payload))
    if text is not None:
        await sms.send(envelope.payload["ring_targets"][0], text,
                       idempotency_key=envelope.payload["linkedid"])


class NotifierAdapter(Adapter):
    manifest = AdapterManifest(
        name="notifier", version="1.0.0", description="SMS to agents about missed calls",
        consumes=("pbx.call.ended.v1",), settings=NotifierSettings,
    )
    router = router

    def __init__(self, settings: AdapterSettings, bus: Any) -> None:
        super().__init__(settings, bus)
        assert isinstance(settings, NotifierSettings)
        self.sms = SmsClient(settings)

    def provide(self) -> dict[type, object]:
        return {SmsClient: self.sms}

    async def stop(self) -> None:
        await self.sms.http.aclose()

    async def health(self) -> Health:
        return Health(ok=bool(self.sms.settings.url), detail=self.sms.settings.url or "no URL")
