"""The daily retention job: when it runs, and that two processes never purge at once."""

from __future__ import annotations

import datetime as dt
import fcntl
import os

import pytest

from servicecenter.reports.schedule import LOCK_FILE, next_run, purge_once
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


def test_purge_runs_once_and_not_while_another_process_holds_the_lock(session_db, tmp_path):
    settings = Settings(database_url=session_db, var_dir=tmp_path)
    assert purge_once(settings) is not None
    fd = os.open(tmp_path / LOCK_FILE, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as if another console worker were purging
        assert purge_once(settings) is None
    finally:
        os.close(fd)
