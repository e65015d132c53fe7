"""Service hours skip nights, weekends and NRW public holidays."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from servicecenter.handoff.service_hours import ServiceCalendar

BERLIN = ZoneInfo("Europe/Berlin")
CAL = ServiceCalendar(
    "Europe/Berlin",
    {d: ("08:00-17:00",) for d in ("mo", "tu", "we", "th")} | {"fr": ("08:00-12:30",)},
)


def at(y, m, d, h, mi=0):
    return dt.datetime(y, m, d, h, mi, tzinfo=BERLIN)


def test_open_during_core_hours_only():
    assert CAL.is_open(at(2026, 11, 25, 9))  # Wednesday
    assert not CAL.is_open(at(2026, 11, 25, 17, 30))
    assert not CAL.is_open(at(2026, 11, 27, 13))  # Friday afternoon
    assert not CAL.is_open(at(2026, 11, 28, 10))  # Saturday


def test_nrw_holidays_are_closed():
    assert CAL.holiday_name(dt.date(2026, 6, 4)) == "Fronleichnam"  # NRW, not nationwide
    assert not CAL.is_open(at(2026, 6, 4, 10))
    assert not CAL.is_open(at(2026, 11, 1, 10))  # Allerheiligen (a Sunday in 2026 anyway)


def test_due_time_counts_service_hours_only():
    # Wednesday 16:00 + 3 h: 1 h Wednesday, 2 h Thursday from 08:00 -> Thursday 10:00
    assert CAL.add_service_hours(at(2026, 11, 25, 16), 3) == at(2026, 11, 26, 10)


def test_due_time_skips_weekend():
    # Friday 12:00 + 1 h: 0.5 h Friday, then Monday 08:30
    assert CAL.add_service_hours(at(2026, 11, 27, 12), 1) == at(2026, 11, 30, 8, 30)


def test_due_time_skips_easter():
    # Thursday before Easter 2026 (2 April) 16:00 + 24 h: Good Friday and Easter Monday closed.
    due = CAL.add_service_hours(at(2026, 4, 2, 16), 24)
    # 1 h Thu; Tue 7 Apr 9 h (10), Wed 9 h (19), Thu 5 h -> Thursday 9 April 13:00
    assert due == at(2026, 4, 9, 13)


def test_request_at_midnight_starts_next_morning():
    assert CAL.add_service_hours(at(2026, 11, 26, 0, 0), 0.5) == at(2026, 11, 26, 8, 30)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.add_service_hours(dt.datetime(2026, 11, 25, 9), 1)
