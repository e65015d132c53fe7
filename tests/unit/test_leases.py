"""Leases: one holder at a time across processes, renewed by a heartbeat, free when it stops."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from test_trainer_support import scratch_db

from servicecenter import PROJECT_ROOT, leases

UTC = dt.timezone.utc


@pytest.fixture()
def url(tmp_path):
    return scratch_db(tmp_path)


def test_one_holder_at_a_time_and_release(url):
    assert leases.acquire("job", "a", 60, url)
    assert not leases.acquire("job", "b", 60, url)
    assert leases.acquire("job", "a", 60, url)  # the holder may renew by acquiring again
    assert leases.current("job", url).holder == "a"
    assert not leases.release("job", "b", url)  # only the holder gives it up
    assert leases.release("job", "a", url)
    assert leases.current("job", url) is None
    assert leases.acquire("job", "b", 60, url)
    assert leases.acquire("other", "a", 60, url)  # names are independent


def test_an_expired_lease_is_taken_over_and_cannot_be_renewed_by_its_old_holder(url):
    past = dt.datetime.now(UTC) - dt.timedelta(minutes=5)
    assert leases.acquire("job", "a", 60, url, now=past)
    assert leases.current("job", url) is None
    assert not leases.renew("job", "a", 60, url)
    assert leases.acquire("job", "b", 60, url)
    lease = leases.current("job", url)
    assert lease.holder == "b" and lease.acquired_at > past
    assert not leases.renew("job", "a", 60, url)
    assert leases.renew("job", "b", 60, url)


def test_acquiring_again_keeps_the_first_acquisition_time(url):
    start = dt.datetime.now(UTC) - dt.timedelta(seconds=30)
    assert leases.acquire("job", "a", 60, url, now=start)
    assert leases.acquire("job", "a", 60, url)
    lease = leases.current("job", url)
    assert abs((lease.acquired_at - start).total_seconds()) < 0.01 and lease.heartbeat_at > start


def test_replace_takes_over_a_live_lease_from_a_named_finished_holder(url):
    assert leases.acquire("job", "done-job", 600, url)
    assert not leases.acquire("job", "next", 60, url, replace="someone-else")
    assert leases.acquire("job", "next", 60, url, replace="done-job")
    assert leases.current("job", url).holder == "next"


def test_the_heartbeat_keeps_a_short_lease_alive_and_hold_releases_it(url):
    with leases.hold("job", 0.6, url=url, holder="a", every=0.1):
        time.sleep(1.2)  # twice the time to live
        assert leases.current("job", url).holder == "a"
        with pytest.raises(leases.LeaseBusy):
            with leases.hold("job", 60, url=url):
                pass
    assert leases.current("job", url) is None


def test_a_heartbeat_notices_a_lost_lease(url):
    assert leases.acquire("job", "a", 60, url)
    beat = leases.Heartbeat("job", "a", 60, every=0.05, url=url).start()
    try:
        assert leases.release("job", "a", url)  # as if it had expired and been taken
        assert leases.acquire("job", "b", 60, url)
        assert beat.lost.wait(5)
    finally:
        beat.stop()
    assert leases.current("job", url).holder == "b"  # stopping does not release another's lease


CONTENDER = textwrap.dedent('''
    import json, sys, time
    from pathlib import Path
    from servicecenter import leases

    cfg = json.loads(sys.argv[1])
    while not Path(cfg["go"]).exists():
        time.sleep(0.005)
    print(json.dumps(leases.acquire("job", cfg["name"], 60, cfg["url"])))
''')


def test_of_several_processes_racing_for_a_lease_exactly_one_wins(url, tmp_path):
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", CONTENDER, json.dumps({"url": url, "name": f"p{i}",
                                                                          "go": str(go)})],
                              cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(4)]
    time.sleep(1.5)  # let them import
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert results.count(True) == 1, results
    assert leases.current("job", url).holder == f"p{results.index(True)}"


def test_of_several_threads_racing_for_an_expired_lease_exactly_one_wins(url):
    past = dt.datetime.now(UTC) - dt.timedelta(minutes=5)
    assert leases.acquire("job", "crashed", 1, url, now=past)
    barrier = threading.Barrier(6)
    won = []

    def contend(name: str) -> None:
        barrier.wait()
        if leases.acquire("job", name, 60, url):
            won.append(name)

    threads = [threading.Thread(target=contend, args=(f"t{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(won) == 1 and leases.current("job", url).holder == won[0]


def test_the_migration_creates_and_drops_the_lease_table(url):
    import argparse

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from servicecenter.db import get_engine

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.cmd_opts = argparse.Namespace(x=[f"url={url}"])
    assert "job_leases" in inspect(get_engine(url)).get_table_names()
    command.downgrade(config, "0009")
    assert "job_leases" not in inspect(get_engine(url)).get_table_names()
    command.upgrade(config, "head")
    assert "job_leases" in inspect(get_engine(url)).get_table_names()
    assert leases.acquire("job", "a", 60, url)
