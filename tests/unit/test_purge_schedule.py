"""The daily retention job: when it runs, and that two processes never purge at once."""

from __future__ import annotations

import datetime as dt

import pytest

from servicecenter import leases
from servicecenter.reports.schedule import PURGE_LEASE, next_run, purge_once
from servicecenter.settings import Settings, SettingsError

UTC = dt.timezone.utc


@pytest.mark.parametrize(
    "now,expected",
    [
        (dt.datetime(2026, 11, 25, 2, 0, tzinfo=UTC), dt.datetime(2026, 11, 26, 2, 0, tzinfo=UTC)),  # 03:00 CET now
        (dt.datetime(2026, 11, 25, 1, 59, tzinfo=UTC), dt.datetime(2026, 11, 25, 2, 0, tzinfo=UTC)),
        (dt.datetime(2026, 11, 24, 23, 0, tzinfo=UTC), dt.datetime(2026, 11, 25, 2, 0, tzinfo=UTC)),
        (dt.datetime(2026, 7, 1, 0, 30, tzinfo=UTC), dt.datetime(2026, 7, 1, 1, 0, tzinfo=UTC)),  # summer time
    ],
)
def test_next_run_is_the_next_three_oclock_in_geldern(now, expected):
    assert next_run(now, dt.time(3, 0)) == expected


def test_a_wrong_purge_time_names_the_setting(monkeypatch):
    from servicecenter.settings import get_settings

    monkeypatch.setenv("ASSISTANT_PURGE_AT", "3 Uhr")
    get_settings.cache_clear()
    with pytest.raises(SettingsError, match="ASSISTANT_PURGE_AT"):
        get_settings()
    get_settings.cache_clear()


def test_purge_runs_once_and_not_while_another_process_holds_the_lease(session_db, tmp_path):
    settings = Settings(database_url=session_db, var_dir=tmp_path)
    assert purge_once(settings) is not None
    assert leases.current(PURGE_LEASE, session_db) is None  # given back after the purge
    # As if another console worker (any machine) were purging and heartbeating right now.
    with leases.hold(PURGE_LEASE, 60, url=session_db, holder="other-worker"):
        assert purge_once(settings) is None
        assert leases.current(PURGE_LEASE, session_db).holder == "other-worker"
    assert purge_once(settings) is not None


def test_a_purge_lease_whose_holder_stopped_heartbeating_is_taken_over(session_db, tmp_path):
    settings = Settings(database_url=session_db, var_dir=tmp_path)
    past = dt.datetime.now(UTC) - dt.timedelta(minutes=5)
    assert leases.acquire(PURGE_LEASE, "crashed-worker", 60, session_db, now=past)
    assert purge_once(settings) is not None
    assert leases.current(PURGE_LEASE, session_db) is None
