"""Routing rules of one company: ``ESB_PBX__ROUTING__*`` or a JSON/YAML rules file.

Nested in the PBX adapter's settings (``AmiSettings.routing``), so every field is an
environment variable (``ESB_PBX__ROUTING__DEFAULT_QUEUE=support``,
``ESB_PBX__ROUTING__UNKNOWN_STRATEGY=region``) or, for the structured parts (calendar,
branches), a rules file named by ``ESB_PBX__ROUTING__RULES_FILE``: its keys are these
fields and override what the environment says.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bus.errors import ConfigurationError

__all__ = ["DEFAULT_NUMBERING_PLAN", "RoutingSettings", "UnknownStrategy", "WorkingCalendar",
           "load_rules"]

DEFAULT_NUMBERING_PLAN = Path(__file__).resolve().parent / "data" / "DEF-9xx.csv"

UnknownStrategy = Literal["default", "random_free", "secretary", "auto_assign", "region",
                          "ring_all"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Extension = Annotated[str, Field(pattern=r"^[0-9]{2,10}$")]
"""An extension or short number as ``pbx.route.decided.v1`` carries it."""


class WorkingCalendar(BaseModel):
    """When the company answers: weekly hours in its timezone, holidays, moved workdays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "Europe/Moscow"
    hours: dict[str, list[str]] = Field(
        default_factory=lambda: {day: ["09:00-18:00"] for day in WEEKDAYS[:5]},
        description="weekday (mon..sun) -> opening intervals 'HH:MM-HH:MM'; absent = closed")
    holidays: list[dt.date] = Field(default_factory=list, description="closed all day")
    workdays: list[dt.date] = Field(
        default_factory=list, description="weekend days worked (moved holidays): Monday's hours")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value

    @field_validator("hours")
    @classmethod
    def _intervals(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, intervals in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r} (use {', '.join(WEEKDAYS)})")
            for interval in intervals:
                parse_interval(interval)
        return value


def parse_interval(text: str) -> tuple[dt.time, dt.time]:
    """``09:00-18:00`` -> (09:00, 18:00); ``24:00`` as the end means midnight."""
    try:
        start, end = (part.strip() for part in text.split("-"))
        opens = dt.time.fromisoformat(start)
        closes = dt.time.max if end == "24:00" else dt.time.fromisoformat(end)
    except ValueError:
        raise ValueError(f"bad interval {text!r}: want 'HH:MM-HH:MM'") from None
    if closes <= opens:
        raise ValueError(f"bad interval {text!r}: it closes before it opens")
    return opens, closes


class RoutingSettings(BaseModel):
    """Who takes a call, by rule; every target is an extension or a queue name of the PBX."""

    model_config = ConfigDict(extra="forbid")

    rules_file: Path | None = Field(None, description="JSON or YAML file with these fields")
    default_queue: str = Field("support", description="where a call goes when nothing fits")
    deadline_ms: float = Field(250.0, gt=0, description="hard limit of one HTTP decision; "
                               "past it the default queue")
    dialplan_port: int = Field(0, ge=0, le=65535, description="a port of its own for the "
                               "dialplan's GET /route (adapters/pbx/routing/dialplan.py); "
                               "0: off, the bus API's /v1/adapters/pbx/route only")
    dialplan_host: str = Field("127.0.0.1", description="where that port listens: loopback "
                               "or the PBX's network")
    calendar: WorkingCalendar | None = Field(None, description="None: open around the clock")
    voicemail: str = Field("voicemail", description="mailbox for calls outside hours")
    vip_segments: tuple[str, ...] = ("vip",)
    head_of_sales: Extension | None = Field(None, description="extension VIP customers ring")
    group_fallback: bool = Field(True, description="a busy owner's call goes to the owner's "
                                 "first queue (group) before the default queue")
    unknown_strategy: UnknownStrategy = "default"
    secretary: Extension | None = Field(None, description="extension for unknown callers "
                                  "(strategy 'secretary')")
    pool_queue: str | None = Field(None, description="managers of this queue only, for "
                                   "random_free and auto_assign; None: every active manager")
    ring_all_queue: str | None = Field(None, description="department whose free managers all "
                                       "ring (strategy 'ring_all')")
    branches: dict[str, Extension] = Field(
        default_factory=dict, description="region name part (as phonenumbers or the numbering "
        "plan write it, e.g. 'Свердловская') -> branch short number")
    numbering_plan: Path = Field(DEFAULT_NUMBERING_PLAN, description="DEF-9xx.csv registry")
    crm_lookup: bool = Field(True, description="ask crm.customer.requested.v1 on a local miss")
    crm_timeout_ms: float = Field(150.0, gt=0, description="how long to wait for the CRM")
    miss_ttl: float = Field(300.0, ge=0, description="seconds a number the CRM does not know "
                            "is not asked about again")
    assume_free_when_unknown: bool = Field(
        True, description="an extension the PBX has said nothing about counts as free")
    snapshot_interval: float = Field(5.0, gt=0, description="seconds between presence snapshots")
    dial_template: str = Field("PJSIP/{extension}", description="text answer's dial string")
    region: str = Field("RU", description="default region for caller numbers")

    def with_rules_file(self) -> RoutingSettings:
        """These settings with the rules file's values on top (the file wins)."""
        if self.rules_file is None:
            return self
        return RoutingSettings.model_validate(
            {**self.model_dump(exclude_unset=True), **load_rules(self.rules_file),
             "rules_file": None})


def load_rules(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"routing rules file {path}: {error}") from None
    try:
        data = (yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text))
    except (yaml.YAMLError, ValueError) as error:
        raise ConfigurationError(f"routing rules file {path}: {error}") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"routing rules file {path}: want a mapping of settings")
    return data
