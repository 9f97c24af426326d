"""Pure functions from AMI values to canonical ones: channels, numbers, text, time.

No I/O and no bus: the call state machine and presence tracking are built on these.

Channel names (Asterisk 16-20)::

    PJSIP/2001-0000001b                 a phone: endpoint 2001 is an extension
    PJSIP/trunk-0000001a                the provider trunk: not an extension
    Local/2001@from-queue-00000003;1    a Local pair half; counts as extension 2001
    Local/2001@from-queue/n             a queue member interface (no suffix)
    PJSIP/2001                          a device (DeviceStateChange) or interface
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from bus.phones import to_e164 as phones_e164

__all__ = [
    "DEFAULT_EXTENSION_PATTERN",
    "WITHHELD",
    "ChannelRules",
    "caller_number",
    "dialed_number",
    "iso",
    "short_text",
    "to_e164",
]

DEFAULT_EXTENSION_PATTERN = r"[0-9]{3,6}"
PHONE_TECHNOLOGIES = frozenset({"PJSIP", "SIP", "IAX2", "DAHDI", "H323", "OOH323", "MGCP",
                                "SKINNY", "UNISTIM", "MOBILE", "WEBRTC"})
WITHHELD = frozenset({"", "<unknown>", "unknown", "anonymous", "unavailable", "restricted",
                      "private", "<null>", "null", "withheld"})
_NUMBER = re.compile(r"^\+?[0-9*#]{1,32}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SUFFIX = re.compile(r"-[0-9a-fA-F]{4,}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ChannelRules:
    """Which channels are agents' phones and which are the outside world."""

    def __init__(self, extension_pattern: str = DEFAULT_EXTENSION_PATTERN) -> None:
        self._extension = re.compile(f"^(?:{extension_pattern})$")

    def is_extension_number(self, value: str | None) -> bool:
        return bool(value) and self._extension.match(value or "") is not None

    def parse(self, channel: str | None) -> tuple[str, str] | None:
        """``PJSIP/2001-0000001b`` -> ``("PJSIP", "2001")``; ``Local/2001@ctx-..;1`` ->
        ``("Local", "2001@ctx")``; ``None`` for anything without a technology."""
        if not channel or "/" not in channel:
            return None
        tech, _, rest = channel.partition("/")
        if tech.upper() == "LOCAL":
            rest = rest.split(";", 1)[0]
            if rest.endswith("/n"):
                rest = rest[:-2]
        return tech, _SUFFIX.sub("", rest)

    def extension(self, channel: str | None) -> str | None:
        """The agent extension behind a phone channel, a Local channel or an interface."""
        parsed = self.parse(channel)
        if parsed is None:
            return None
        tech, resource = parsed
        if tech.upper() == "LOCAL":
            resource = resource.split("@", 1)[0]
        elif tech.upper() not in PHONE_TECHNOLOGIES:
            return None
        return resource if self.is_extension_number(resource) else None

    def device_extension(self, device: str | None) -> str | None:
        """``PJSIP/2001`` -> 2001; trunks, ``Queue:``, ``Custom:`` and Local devices -> None."""
        parsed = self.parse(device)
        if parsed is None or parsed[0].upper() not in PHONE_TECHNOLOGIES:
            return None
        return parsed[1] if self.is_extension_number(parsed[1]) else None

    def is_trunk(self, channel: str | None) -> bool:
        """A channel to the outside world: a phone technology whose endpoint is no extension."""
        parsed = self.parse(channel)
        return (parsed is not None and parsed[0].upper() in PHONE_TECHNOLOGIES
                and not self.is_extension_number(parsed[1]))


def caller_number(raw: str | None) -> str | None:
    """A caller id as the provider sent it (not normalised); ``None`` if absent or withheld."""
    if raw is None or raw.strip().lower() in WITHHELD:
        return None
    return dialed_number(raw)


def dialed_number(raw: str | None) -> str | None:
    """A number as the PBX saw it (``+79123456789``, ``89123456789``, ``2003``) or None."""
    if raw is None:
        return None
    value = raw.strip().replace(" ", "").replace("-", "")
    return value if _NUMBER.match(value) else None


def to_e164(raw: str | None, region: str = "RU") -> str | None:
    """The number in E.164 (``89123456789`` -> ``+79123456789``), or None when it is not a
    valid public number (withheld, an internal extension, garbage)."""
    number = caller_number(raw)
    return None if number is None else phones_e164(number, region, valid_only=True)


def short_text(value: str | None, limit: int = 256) -> str | None:
    """A one-line label safe for the canonical schemas (no control characters, capped)."""
    if value is None:
        return None
    return _CONTROL.sub("", value).strip()[:limit]


def iso(us: int | None) -> str | None:
    """Microseconds since the epoch -> ``2024-03-12T06:15:07.000715Z`` (always 6 digits)."""
    if us is None:
        return None
    return (_EPOCH + timedelta(microseconds=us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_datetime(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def seconds_between(start_us: int, end_us: int) -> int:
    """Whole seconds, rounded half to even like the fixtures' ``round()``."""
    return max(0, round((end_us - start_us) / 1_000_000))
