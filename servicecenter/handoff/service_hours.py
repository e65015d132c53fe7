"""Service hours: core hours on working days, without weekends and public holidays.

Due times of forwarded requests are counted in service hours ("reply within 24 service
hours"), so a request on Friday afternoon before Easter is due days later, not tomorrow.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, List, Tuple
from zoneinfo import ZoneInfo

import holidays as holidays_lib

WEEKDAY_KEYS = ("mo", "tu", "we", "th", "fr", "sa", "su")
Interval = Tuple[dt.time, dt.time]


def _parse(interval: str) -> Interval:
    start, end = interval.split("-")
    return dt.time.fromisoformat(start), dt.time.fromisoformat(end)


@dataclass(frozen=True)
class ServiceCalendar:
    timezone: str
    weekly: Dict[str, Tuple[str, ...]]
    country: str = "DE"
    subdivision: str = "NW"
    observe_holidays: bool = True

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def holiday_name(self, day: dt.date) -> str | None:
        if not self.observe_holidays:
            return None
        return _holidays(self.country, self.subdivision, day.year).get(day)

    def intervals(self, day: dt.date) -> List[Interval]:
        """Core-hour intervals of a calendar day (none on weekends without hours or holidays)."""
        if self.holiday_name(day):
            return []
        return [_parse(i) for i in self.weekly.get(WEEKDAY_KEYS[day.weekday()], ())]

    def is_open(self, moment: dt.datetime) -> bool:
        local = moment.astimezone(self.tz)
        return any(start <= local.time() < end for start, end in self.intervals(local.date()))

    def next_opening(self, moment: dt.datetime) -> dt.datetime | None:
        """The next moment at or after ``moment`` when core hours begin (None: no hours)."""
        local = moment.astimezone(self.tz)
        day = local.date()
        for _ in range(400):
            for begin, end in self.intervals(day):
                opens = dt.datetime.combine(day, begin, self.tz)
                closes = dt.datetime.combine(day, end, self.tz)
                if closes > local:
                    return max(opens, local)
            day += dt.timedelta(days=1)
        return None

    def add_service_hours(self, start: dt.datetime, hours: float) -> dt.datetime:
        """The moment ``hours`` service hours after ``start`` (an aware datetime)."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        remaining = dt.timedelta(hours=hours)
        local = start.astimezone(self.tz)
        day = local.date()
        for _ in range(3660):  # at most ten years ahead
            for begin, end in self.intervals(day):
                opens = dt.datetime.combine(day, begin, self.tz)
                closes = dt.datetime.combine(day, end, self.tz)
                if closes <= local:
                    continue
                opens = max(opens, local)
                available = closes - opens
                if remaining <= available:
                    return (opens + remaining).astimezone(start.tzinfo)
                remaining -= available
            day += dt.timedelta(days=1)
        raise ValueError("no service hours configured")


@lru_cache(maxsize=32)
def _holidays(country: str, subdivision: str, year: int) -> holidays_lib.HolidayBase:
    return holidays_lib.country_holidays(country, subdiv=subdivision, years=year, language="de")
