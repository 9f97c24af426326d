"""The PBX adapter's settings: ``ESB_PBX__*`` (``ESB_PBX__AMI_HOST``, ``ESB_PBX__AMI_USER``...)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from adapters.pbx.routing.settings import RoutingSettings
from bus.adapters import AdapterSettings

__all__ = ["AmiSettings"]


class AmiSettings(AdapterSettings):
    """Where the Asterisk Manager Interface is and how the adapter talks to it."""

    model_config = SettingsConfigDict(env_prefix="ESB_PBX__", env_nested_delimiter="__",
                                      extra="ignore")

    enabled: bool = Field(False, description="off until a PBX is configured")
    ami_host: str = "127.0.0.1"
    ami_port: int = Field(5038, ge=1, le=65535)
    ami_user: str = "esb"
    ami_secret: SecretStr = SecretStr("")
    auth: Literal["plain", "md5"] = Field("plain", description="Secret in clear or MD5 challenge")
    events: str = Field("on", description="Login 'Events' mask: on, off or call,agent,...")
    event_filters: tuple[str, ...] = Field(
        (), description="AMI 'Filter' expressions added after login (e.g. 'Event: Dial*')")
    needed_events_only: bool = Field(
        True, description="drop the AMI events the adapter does not read before parsing "
        "them, and ask the PBX to send only those (AMI 'Filter' after login)")
    region: str = Field("RU", description="default region for phone numbers (phonenumbers)")
    extension_pattern: str = Field(r"[0-9]{3,6}", description="what an agent extension looks like")
    call_timeout: float = Field(4 * 3600.0, gt=0, description="seconds before an open call is "
                                "closed as failed")
    report_internal_calls: bool = False
    connect_timeout: float = Field(5.0, gt=0)
    action_timeout: float = Field(10.0, gt=0)
    ping_interval: float = Field(20.0, gt=0, description="seconds between keep-alive Pings")
    ping_timeout: float = Field(10.0, gt=0)
    reconnect_initial: float = Field(0.5, gt=0, description="first reconnect delay (seconds)")
    reconnect_max: float = Field(30.0, gt=0, description="longest reconnect delay (seconds)")
    stable_after: float = Field(30.0, ge=0, description="a session this long resets the backoff")
    sweep_interval: float = Field(30.0, gt=0, description="seconds between call-timeout sweeps")
    max_value_chars: int = Field(64 * 1024, ge=256, description="longer AMI values are cut")
    routing: RoutingSettings = Field(default_factory=RoutingSettings,
                                     description="who takes a call: ESB_PBX__ROUTING__*")
    calls_database_url: str = Field("", description="SQLAlchemy URL of the call store; "
                                    "empty: the bus's own database (ESB_DATABASE_URL)")
    calls_timezone: str = Field("UTC", description="IANA time zone of the call analytics' "
                                "hours and weekdays (applied when a call is stored)")
