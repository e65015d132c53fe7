"""The period a figure covers: [start, end) in the town's time zone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Period:
    """[start, end) in the town's time zone (e.g. one calendar month)."""

    start: dt.datetime
    end: dt.datetime

    @classmethod
    def month(cls, month: str, timezone: str = "Europe/Berlin") -> "Period":
        """'2026-11' -> the whole of November 2026, local time."""
        try:
            year, number = (int(p) for p in month.split("-"))
            first = dt.date(year, number, 1)
        except ValueError as err:
            raise ValueError(f"month must look like 2026-11, got {month!r}") from err
        following = dt.date(year + number // 12, number % 12 + 1, 1)
        tz = ZoneInfo(timezone)
        return cls(dt.datetime.combine(first, dt.time(), tz), dt.datetime.combine(following, dt.time(), tz))

    @classmethod
    def days(cls, first: dt.date, last: dt.date, timezone: str = "Europe/Berlin") -> "Period":
        if last < first:
            raise ValueError("the period ends before it starts")
        tz = ZoneInfo(timezone)
        return cls(dt.datetime.combine(first, dt.time(), tz),
                   dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tz))

    @property
    def label(self) -> str:
        last = (self.end - dt.timedelta(seconds=1)).date()
        return f"{self.start.date():%d.%m.%Y} – {last:%d.%m.%Y}"
