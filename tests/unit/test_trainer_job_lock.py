""""One training at a time" holds across console processes: two job managers (separate Python
processes on the same database) can never both start a training run; the job lease in the
database decides, not a file on one machine."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import List

import pytest
from sqlalchemy import select
from test_trainer_support import scratch_db, settings_for

from servicecenter import PROJECT_ROOT, leases
from servicecenter.db import session_scope
from servicecenter.trainer import jobs
from servicecenter.trainer.errors import JobError
from servicecenter.trainer.models import TrainerJob

# A second job manager: its own process, its own Settings, the same database.
MANAGER = textwrap.dedent('''
    import json, sys, time
    from pathlib import Path
    from servicecenter import leases
    from servicecenter.settings import Settings
    from servicecenter.trainer import jobs
    from servicecenter.trainer.errors import JobError

    cfg = json.loads(sys.argv[1])
    settings = Settings(database_url=cfg["url"], knowledge_dir=cfg["knowledge"],
                        models_dir=cfg["models"], var_dir=cfg["var"])
    signals = Path(cfg["signals"])
    name = cfg["name"]

    def wait_for(flag):
        while not (signals / flag).exists():
            time.sleep(0.01)

    if cfg["mode"] == "hold":
        # Hold the job lease as a manager does between "lease taken" and "job recorded".
        with leases.hold(jobs.JOB_LEASE, 60, url=cfg["url"], holder="0123456789abcdef"):
            (signals / f"{name}.held").touch()
            wait_for("release")
        print(json.dumps({"held": True}))
    else:
        (signals / f"{name}.ready").touch()
        wait_for("go")
        try:
            job = jobs.create_job(settings, name, epochs=1)
            print(json.dumps({"started": job.id}))
        except JobError as err:
            print(json.dumps({"refused": err.message}))
''')


@pytest.fixture()
def env(tmp_path):
    url = scratch_db(tmp_path)
    settings = settings_for(url, tmp_path)
    signals = tmp_path / "signals"
    signals.mkdir()
    return settings, signals


def _manager(settings, signals: Path, name: str, mode: str) -> "subprocess.Popen[str]":
    cfg = {"url": settings.db_url, "knowledge": str(settings.knowledge_dir), "models": str(settings.models_dir),
           "var": str(settings.var_dir), "signals": str(signals), "name": name, "mode": mode}
    return subprocess.Popen([sys.executable, "-c", MANAGER, json.dumps(cfg)], cwd=PROJECT_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(signals: Path, flag: str, procs: List["subprocess.Popen[str]"]) -> None:
    import time

    while not (signals / flag).exists():
        for proc in procs:
            if proc.poll() is not None:
                raise AssertionError(f"job manager ended early: {proc.stderr.read()[-2000:]}")  # type: ignore[union-attr]
        time.sleep(0.01)


def _result(proc: "subprocess.Popen[str]") -> dict:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    return json.loads(out.strip().splitlines()[-1])


def test_two_job_managers_starting_together_start_exactly_one_training(env):
    settings, signals = env
    managers = [_manager(settings, signals, name, "start") for name in ("trainer-a", "trainer-b")]
    for name in ("trainer-a", "trainer-b"):
        _wait_for(signals, f"{name}.ready", managers)
    (signals / "go").touch()
    results = [_result(proc) for proc in managers]
    started = [r for r in results if "started" in r]
    refused = [r for r in results if "refused" in r]
    assert len(started) == 1 and len(refused) == 1, results
    assert refused[0]["refused"] == "Es läuft bereits ein Training. Bitte warten Sie, bis es fertig ist."
    with session_scope(settings.db_url) as session:
        rows = list(session.execute(select(TrainerJob)).scalars())
    assert [row.id for row in rows] == [started[0]["started"]]
    # This (third) process sees the other manager's job as running and is refused too.
    with pytest.raises(JobError, match="bereits ein Training"):
        jobs.create_job(settings, "trainer-c", epochs=1)


def test_a_start_in_progress_in_another_process_refuses_with_a_clear_message(env):
    settings, signals = env
    holder = _manager(settings, signals, "trainer-a", "hold")
    try:
        _wait_for(signals, "trainer-a.held", [holder])
        with pytest.raises(JobError) as refused:
            jobs.create_job(settings, "trainer-b", epochs=1, lock_wait_seconds=0.2)
        assert "anderen Arbeitsplatz ein Training gestartet" in refused.value.message
        with session_scope(settings.db_url) as session:
            assert session.execute(select(TrainerJob)).first() is None
    finally:
        (signals / "release").touch()
        assert _result(holder) == {"held": True}
    # Once the other manager is done, this one starts normally.
    job = jobs.create_job(settings, "trainer-b", epochs=1, lock_wait_seconds=0.2)
    assert jobs.get_job(job.id, settings.db_url).started_by == "trainer-b"
    assert leases.current(jobs.JOB_LEASE, settings.db_url).holder == job.id
    assert not list(settings.var_dir.glob("*.lock"))


def test_the_console_tells_the_trainer_when_another_worker_is_starting_a_training(env, monkeypatch):
    from test_trainer_support import client_for, csrf_of

    settings, signals = env
    monkeypatch.setattr(jobs, "START_WAIT", 0.2)
    client = client_for(settings, "trainer")
    token = csrf_of(client, "/console/trainer/models")
    holder = _manager(settings, signals, "other-worker", "hold")
    try:
        _wait_for(signals, "other-worker.held", [holder])
        response = client.post("/console/trainer/models/train", data={"csrf_token": token})
        assert response.status_code == 409
        assert "Gerade wird an einem anderen Arbeitsplatz ein Training gestartet." in response.text
    finally:
        (signals / "release").touch()
        _result(holder)
    with session_scope(settings.db_url) as session:
        assert session.execute(select(TrainerJob)).first() is None
