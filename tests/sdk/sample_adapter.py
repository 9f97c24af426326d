"""A small adapter used to prove the contract: tells a manager about a missed call."""

from __future__ import annotations

from typing import Any

from pydantic_settings import SettingsConfigDict

from bus.adapters import Adapter, AdapterManifest, AdapterSettings, Health
from bus.envelope import Envelope
from bus.router import Router


class NotifierSettings(AdapterSettings):
    model_config = SettingsConfigDict(env_prefix="ESB_NOTIFIER__", env_nested_delimiter="__")

    sender: str = "ESB"


class Outbox:
    """The notifier's 'external system': remembers what it was asked to send."""

    def __init__(self, sender: str) -> None:
        self.sender = sender
        self.sent: list[dict[str, Any]] = []

    def send(self, to: str, text: str) -> None:
        self.sent.append({"from": self.sender, "to": to, "text": text})


router = Router(source="notifier")


@router.subscriber("notifier.missed-calls", "pbx.call.ended.v1")
async def tell_about_missed_call(envelope: Envelope, outbox: Outbox) -> None:
    call = envelope.payload
    if call["disposition"] == "missed" and call["caller_number"]:
        outbox.send(to=call["ring_targets"][0], text=f"missed call from {call['caller_number']}")


class NotifierAdapter(Adapter):
    manifest = AdapterManifest(
        name="notifier", version="0.1.0", description="SMS to managers about missed calls",
        consumes=("pbx.call.ended.v1",), settings=NotifierSettings,
    )
    router = router

    def __init__(self, settings: AdapterSettings, bus: Any) -> None:
        super().__init__(settings, bus)
        assert isinstance(settings, NotifierSettings)
        self.outbox = Outbox(settings.sender)
        self.started = False

    def provide(self) -> dict[type, object]:
        return {Outbox: self.outbox}

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False

    async def health(self) -> Health:
        return Health(ok=self.started, detail=f"{len(self.outbox.sent)} sent")


class BrokenSettings(AdapterSettings):
    model_config = SettingsConfigDict(env_prefix="ESB_BROKEN__")

    url: str  # required and never set in the tests


class MisconfiguredAdapter(Adapter):
    manifest = AdapterManifest(name="misconfigured", version="0", description="needs a URL",
                               settings=BrokenSettings)
