"""Routing configuration (knowledge/geldern/routing.yml): core hours, holidays, takeover
stage, service promise and the targets of each department, validated at start."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Dict, List, Literal, Optional, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, Extra, Field, ValidationError, confloat, conint, validator

from servicecenter.dialogue import DEFAULT_HANDOFF_TARGET
from servicecenter.handoff.service_hours import ServiceCalendar
from servicecenter.knowledge.loader import KnowledgeBase, KnowledgeError, Problem
from servicecenter.knowledge.schema import check_weekly
from servicecenter.settings import error_message

FILE = "routing.yml"
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class _Strict(BaseModel):
    class Config:
        extra = Extra.forbid


class HolidayRegion(_Strict):
    country: str = "DE"
    subdivision: str = "NW"
    # false only for a test or emergency configuration that serves on public holidays too
    observe: bool = True


class ServicePromise(_Strict):
    reply_within_service_hours: confloat(gt=0) = Field(..., unit="service hours")  # type: ignore[valid-type]


class Target(_Strict):
    queue: str
    sip_uri: Optional[str] = None
    # Where ticket notifications go; default: the organisation's e-mail in organisations.yml.
    email: Optional[str] = None

    @validator("sip_uri")
    def _sip(cls, value: Optional[str]) -> Optional[str]:  # noqa: N805
        if value is not None and not value.startswith(("sip:", "sips:")):
            raise ValueError("must start with 'sip:' or 'sips:'")
        return value

    @validator("email")
    def _email(cls, value: Optional[str]) -> Optional[str]:  # noqa: N805
        if value is not None and not _EMAIL_RE.match(value):
            raise ValueError("not an e-mail address")
        return value


class Telephony(_Strict):
    # SIP URI of an agent queue on the PBX; "{queue}" is replaced by the target's queue name.
    queue_uri: str = "sip:{queue}@localhost"

    @validator("queue_uri")
    def _template(cls, value: str) -> str:  # noqa: N805
        if not value.startswith(("sip:", "sips:")) or "{queue}" not in value:
            raise ValueError("must be a sip: or sips: URI containing '{queue}'")
        return value


class LiveQueue(_Strict):
    # Estimate per citizen waiting ahead, used until enough takeovers were measured today.
    minutes_per_waiting_contact: confloat(gt=0) = Field(3.0, unit="minutes")  # type: ignore[valid-type]
    # Waiting times of this many recent takeovers replace the estimate.
    measured_takeovers: conint(ge=0) = 10  # type: ignore[valid-type]  # 0: always the estimate


class RoutingConfig(_Strict):
    timezone: str
    holidays: HolidayRegion
    core_hours: Dict[str, List[str]]
    takeover_stage: Literal[1, 2, 3] = Field(..., hint="1, 2 or 3")
    stages: Dict[int, Union[str, List[str]]]
    service_promise: ServicePromise
    targets: Dict[str, Target]
    telephony: Telephony = Telephony()
    live_queue: LiveQueue = LiveQueue()

    @validator("timezone")
    def _tz(cls, value: str) -> str:  # noqa: N805
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone '{value}'") from err
        return value

    _hours_check = validator("core_hours", allow_reuse=True)(check_weekly)

    @validator("core_hours")
    def _some_hours(cls, value: Dict[str, List[str]]) -> Dict[str, List[str]]:  # noqa: N805
        if not any(value.values()):
            raise ValueError("at least one weekday needs core hours (due times are counted in them)")
        return value

    @property
    def calendar(self) -> ServiceCalendar:
        return ServiceCalendar(
            self.timezone,
            {day: tuple(intervals) for day, intervals in self.core_hours.items()},
            self.holidays.country,
            self.holidays.subdivision,
            self.holidays.observe,
        )

    def is_open(self, moment: Optional[dt.datetime] = None) -> bool:
        """Is the ServiceCenter's agent queue staffed at ``moment`` (default: now)?"""
        return self.calendar.is_open(moment or dt.datetime.now(dt.timezone.utc))

    def target_email(self, department: str, kb: KnowledgeBase) -> Optional[str]:
        target = self.targets.get(department)
        if target is not None and target.email:
            return target.email
        org = kb.organisations.get(department)
        return getattr(org, "email", None) if org is not None else None

    def callback_email(self, department: str, kb: KnowledgeBase) -> Optional[str]:
        """Where a callback request for ``department`` is mailed (web form or phone); none for
        the ServiceCenter's own queue, whose agents see callbacks in the inbox."""
        if department == DEFAULT_HANDOFF_TARGET:
            return None
        return self.target_email(department, kb)

    def transfer_uri(self, department: str) -> Optional[str]:
        """Where the voice gateway transfers a call for ``department`` (None: no target)."""
        target = self.targets.get(department)
        if target is None:
            return None
        return target.sip_uri or self.telephony.queue_uri.replace("{queue}", target.queue)

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
            Problem(FILE, "routing", ".".join(str(p) for p in e["loc"]), error_message(RoutingConfig, e))
            for e in err.errors()
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


def reply_due(routing: RoutingConfig, now: Optional[dt.datetime] = None) -> dt.datetime:
    """When a forwarded request must be answered: the service promise in service hours."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return routing.calendar.add_service_hours(now, routing.service_promise.reply_within_service_hours)
