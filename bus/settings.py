"""Bus settings, read once at start-up from ``ESB_*`` variables and an optional file.

Nesting uses ``__``: ``ESB_JOURNAL__BATCH_SIZE=500``. ``ESB_SETTINGS_FILE`` may
name a ``.env``-style file read before the environment (the environment wins).
Every default works on the embedded profile: in-memory broker, SQLite file.
Adapters own their settings (``ESB_BILLING__URL`` …) in their own packages.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "ApiSettings",
    "AuthSettings",
    "DeliverySettings",
    "JournalSettings",
    "Settings",
    "TelemetrySettings",
    "load_settings",
    "masked",
]

SECRET_MARKERS = ("password", "secret", "token", "key")


class DeliverySettings(BaseModel):
    prefetch: int = Field(200, ge=1, description="unacked messages per consumer")
    max_attempts: int = Field(5, ge=1, description="deliveries before dead-lettering")
    max_redeliveries: int = Field(
        5, ge=1, description="redeliveries of one attempt never settled (its consumer died "
        "handling it?) before dead-lettering: the poison bound of classic queues")
    retry_delays: tuple[float, ...] = Field(
        (1.0, 5.0, 30.0, 120.0), description="backoff tiers in seconds"
    )
    validate_on_publish: bool = True
    validate_on_consume: bool = True
    max_message_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    quorum_queues: bool = False
    confirm_window: int = Field(1000, ge=1, description="publisher confirms in flight")
    processed_retention_days: float = Field(
        7.0, gt=0, description="how long processed ids are kept to catch redeliveries")
    housekeeping_interval: float = Field(3600.0, gt=0, description="seconds between clean-ups")


class JournalSettings(BaseModel):
    enabled: bool = True
    retention_days: float = Field(30.0, gt=0, description="messages kept in the journal")
    batch_size: int = Field(500, ge=1)
    flush_interval: float = Field(0.2, gt=0)
    store_payload: bool = True
    masked_fields: tuple[str, ...] = ("passport", "inn", "passport_series", "passport_number")
    mask_phones: bool = False
    max_buffer: int = Field(100_000, ge=1, description="records waiting to be written; more drop")
    lookup_fields: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: {
            "phone": ("caller", "called", "caller_number", "called_number", "phone", "e164"),
            "account": ("account", "account_number"),
            "customer_id": ("customer_id", "party_id"),
            "inn": ("inn",),
        },
        description="search key name -> payload fields (any depth) or dotted paths (from the root)",
    )
    hashed_lookups: tuple[str, ...] = Field(
        ("inn",), description="search keys stored only as a keyed hash, as '<name>_hash'"
    )
    hash_secret: SecretStr = SecretStr("")


class TelemetrySettings(BaseModel):
    exporter: Literal["none", "console", "otlp"] = "none"
    otlp_endpoint: str = "http://127.0.0.1:4318"
    service_name: str = "telecom-esb"


class AuthSettings(BaseModel):
    """Who may call the API (see docs/security.md). No users and no keys: open, loopback only."""

    users: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="user name -> '<role>:<password hash>' (esb auth hash-password)")
    api_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="system name -> '<role>:<key hash>' (esb auth new-key); sent as X-API-Key")
    session_secret: SecretStr = Field(
        SecretStr(""), description="signs session tokens; empty: a random one per process")
    session_ttl: float = Field(8 * 3600.0, gt=0, description="seconds a session token lives")
    public_metrics: bool = Field(False, description="/metrics without credentials (scraping)")
    public_docs: bool = Field(True, description="/docs and /openapi.json without credentials")

    @property
    def configured(self) -> bool:
        return bool(self.users or self.api_keys)


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    auth: AuthSettings = AuthSettings()


class Settings(BaseSettings):
    """Effective settings of one bus process."""

    model_config = SettingsConfigDict(
        env_prefix="ESB_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    broker_url: SecretStr = SecretStr("memory://")
    database_url: SecretStr = SecretStr("sqlite:///var/esb.db")
    exchange: str = "esb.events"
    queue_prefix: str = "esb"
    instance: str = Field(default_factory=lambda: f"{os.uname().nodename}-{os.getpid()}")
    event_loop: Literal["uvloop", "asyncio"] = Field(
        "uvloop", description="the bus process's event loop (bus/event_loop.py); uvloop "
        "falls back to asyncio's where it is not installed")
    delivery: DeliverySettings = DeliverySettings()
    journal: JournalSettings = JournalSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    api: ApiSettings = ApiSettings()

    @property
    def broker(self) -> str:
        return self.broker_url.get_secret_value()

    @property
    def database(self) -> str:
        return self.database_url.get_secret_value()


def load_settings(**overrides: Any) -> Settings:
    """Settings from the file named by ``ESB_SETTINGS_FILE``, the environment, then overrides."""
    env_file = os.environ.get("ESB_SETTINGS_FILE")
    return Settings(_env_file=env_file, **overrides)


def masked(value: Any, name: str = "") -> Any:
    """A JSON-ready copy of settings with secrets and URL passwords hidden."""
    from urllib.parse import urlsplit, urlunsplit

    if isinstance(value, BaseModel):
        return {key: masked(getattr(value, key), key) for key in type(value).model_fields}
    if isinstance(value, SecretStr):
        raw = value.get_secret_value()
        parts = urlsplit(raw)
        if parts.password:
            host = parts.hostname or ""
            port = f":{parts.port}" if parts.port else ""
            netloc = f"{parts.username}:****@{host}{port}"
            return urlunsplit(parts._replace(netloc=netloc))
        return raw if "://" in raw else "****"
    if isinstance(value, tuple | list):
        return [masked(item) for item in value]
    if isinstance(value, dict):
        return {key: masked(item, str(key)) for key, item in value.items()}
    if any(marker in name.lower() for marker in SECRET_MARKERS) and value:
        return "****"
    return value
