"""Routing configuration (knowledge/geldern/routing.yml): core hours, holidays, takeover
stage, service promise and the targets of each department, validated at start."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Dict, List, Optional, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, Extra, ValidationError, validator

from servicecenter.handoff.service_hours import ServiceCalendar
from servicecenter.knowledge.loader import KnowledgeBase, KnowledgeError, Problem
from servicecenter.knowledge.schema import check_weekly

FILE = "routing.yml"


class _Strict(BaseModel):
    class Config:
        extra = Extra.forbid


class HolidayRegion(_Strict):
    country: str = "DE"
    subdivision: str = "NW"


class ServicePromise(_Strict):
    reply_within_service_hours: float

    @validator("reply_within_service_hours")
    def _positive(cls, value: float) -> float:  # noqa: N805
        if value <= 0:
            raise ValueError("must be a positive number of service hours")
        return value


class Target(_Strict):
    queue: str
    sip_uri: Optional[str] = None

    @validator("sip_uri")
    def _sip(cls, value: Optional[str]) -> Optional[str]:  # noqa: N805
        if value is not None and not value.startswith(("sip:", "sips:")):
            raise ValueError("must start with 'sip:' or 'sips:'")
        return value


class RoutingConfig(_Strict):
    timezone: str
    holidays: HolidayRegion
    core_hours: Dict[str, List[str]]
    takeover_stage: int
    stages: Dict[int, Union[str, List[str]]]
    service_promise: ServicePromise
    targets: Dict[str, Target]

    @validator("timezone")
    def _tz(cls, value: str) -> str:  # noqa: N805
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone '{value}'") from err
        return value

    _hours_check = validator("core_hours", allow_reuse=True)(check_weekly)

    @validator("takeover_stage")
    def _stage(cls, value: int) -> int:  # noqa: N805
        if value not in (1, 2, 3):
            raise ValueError("must be 1, 2 or 3")
        return value

    @property
    def calendar(self) -> ServiceCalendar:
        return ServiceCalendar(
            self.timezone,
            {day: tuple(intervals) for day, intervals in self.core_hours.items()},
            self.holidays.country,
            self.holidays.subdivision,
        )

    def answered_by_servicecenter(self, service: str, kb: KnowledgeBase) -> bool:
        """Is ``service`` within the ServiceCenter's spectrum at the current stage?"""
        return service in self.services_in_stage(self.takeover_stage, kb)

    def services_in_stage(self, stage: int, kb: KnowledgeBase) -> List[str]:
        result: List[str] = []
        for number in sorted(self.stages):
            if number > stage:
                break
            listed = self.stages[number]
            result.extend(sorted(kb.services) if listed == "all" else list(listed))
        return sorted(set(result))


def load_routing(directory: Path, kb: KnowledgeBase) -> RoutingConfig:
    """Load and check routing.yml against the knowledge base; problems name the field."""
    path = directory / FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        config = RoutingConfig.parse_obj(raw)
    except FileNotFoundError as err:
        raise KnowledgeError([Problem(FILE, "-", "-", "file is missing")]) from err
    except yaml.YAMLError as err:
        raise KnowledgeError([Problem(FILE, "-", "-", f"not valid YAML: {err}")]) from err
    except ValidationError as err:
        raise KnowledgeError([
            Problem(FILE, "routing", ".".join(str(p) for p in e["loc"]), e["msg"]) for e in err.errors()
        ]) from err
    problems: List[Problem] = []
    for slug in config.targets:
        if slug not in kb.organisations:
            problems.append(Problem(FILE, "routing", f"targets.{slug}", "unknown department or body"))
    for slug in kb.organisations:
        if slug not in config.targets and slug != "polizei-notruf":
            problems.append(Problem(FILE, "routing", "targets", f"no target for '{slug}'"))
    for number, listed in config.stages.items():
        if number not in (1, 2, 3):
            problems.append(Problem(FILE, "routing", f"stages.{number}", "stages are 1, 2 and 3"))
        if listed == "all":
            continue
        if isinstance(listed, str):
            problems.append(Problem(FILE, "routing", f"stages.{number}", "a list of service slugs or 'all'"))
            continue
        for slug in listed:
            if slug not in kb.services:
                problems.append(Problem(FILE, "routing", f"stages.{number}", f"unknown service '{slug}'"))
    if problems:
        raise KnowledgeError(problems)
    return config


_cache: Dict[tuple, RoutingConfig] = {}


def current_routing(kb: KnowledgeBase, directory: Optional[Path] = None) -> RoutingConfig:
    """routing.yml of the configured town, reloaded when the file or the knowledge changes."""
    from servicecenter.settings import get_settings

    directory = directory or get_settings().knowledge_dir
    key = (str(directory), (directory / FILE).stat().st_mtime, id(kb))
    if key not in _cache:
        _cache.clear()
        _cache[key] = load_routing(directory, kb)
    return _cache[key]


def reply_due(kb: KnowledgeBase, now: Optional[dt.datetime] = None) -> dt.datetime:
    """When a forwarded request must be answered: the service promise in service hours."""
    routing = current_routing(kb)
    now = now or dt.datetime.now(dt.timezone.utc)
    return routing.calendar.add_service_hours(now, routing.service_promise.reply_within_service_hours)
