"""Retrain and compare: progress, the comparison and activation gate, activation/rollback with
hash checks, one job at a time, and the console's model pages per role."""

from __future__ import annotations

import hashlib
import http.server
import json
import secrets
import threading
from pathlib import Path
from typing import List, Tuple

import pytest
from test_trainer_support import client_for, csrf_of, scratch_db, settings_for

from servicecenter.db import session_scope
from servicecenter.trainer import activation, comparison, cross_validation, jobs, runner
from servicecenter.trainer.errors import JobError
from servicecenter.trainer.models import TrainerJob

CASES = [
    {"id": "a", "channel": "chat", "turns": ["Reisepass beantragen"],
     "expected": [{"service": "reisepass", "outcome": "answer", "department": None}]},
    {"id": "b", "channel": "chat", "turns": ["Hund anmelden"],
     "expected": [{"service": "hundesteuer", "outcome": "answer", "department": None}]},
    {"id": "c", "channel": "voice", "turns": ["Personalausweis verloren"],
     "expected": [{"service": "ausweis-verlust", "outcome": "answer", "department": None}]},
    {"id": "d", "channel": "chat", "turns": ["Hallo"],
     "expected": [{"service": None, "outcome": "smalltalk", "department": None}]},
]


def _predictions(*services: Tuple[str, str]) -> List[dict]:
    out = []
    for case, (intent, service) in zip(CASES, services, strict=True):
        out.append({"id": case["id"], "turns": [{"intent": intent, "service": service, "outcome": "answer"}]})
    return out


BEFORE = _predictions(("svc_reisepass", "reisepass"), ("svc_hundesteuer", "hundesteuer"),
                      ("svc_personalausweis", "personalausweis"), ("greet", None))


def test_progress_is_read_from_rasas_training_log():
    log = ("Epochs:   0%|          | 0/20 [00:00<?, ?it/s]\r"
           "Epochs:  45%|████▌     | 9/20 [00:03<00:04, t_loss=2.1]\r"
           "Epochs:  50%|█████     | 10/20 [00:04<00:04, t_loss=1.9]")
    assert runner.progress_from_log(log) == (10, 20)
    assert runner.progress_from_log("Training finished.") == (0, 0)


def test_reduced_config_changes_only_the_epochs(tmp_path):
    from servicecenter import PROJECT_ROOT

    target = jobs.reduced_config(PROJECT_ROOT / "config.yml", tmp_path / "config.yml", 5)
    assert jobs.configured_epochs(target) == 5
    import yaml

    original = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text(encoding="utf-8"))
    reduced = yaml.safe_load(target.read_text(encoding="utf-8"))
    for component in original["pipeline"]:
        if component["name"] == "DIETClassifier":
            component["epochs"] = 5
    assert reduced == original


def test_a_better_candidate_passes_the_gate():
    after = _predictions(("svc_reisepass", "reisepass"), ("svc_hundesteuer", "hundesteuer"),
                         ("svc_ausweis_verlust", "ausweis-verlust"), ("greet", None))
    result = comparison.compare(CASES, BEFORE, after, margin=0.02)
    assert result["gate"]["passed"]
    assert result["service_accuracy"] == {"before": 0.75, "after": 1.0, "delta": 0.25}
    rows = {r["intent"]: r for r in result["per_intent"]}
    assert rows["svc_ausweis_verlust"]["before"] == 0.0 and rows["svc_ausweis_verlust"]["after"] == 1.0
    assert result["better_examples"] == 1 and result["worse_examples"] == []


def test_a_candidate_worse_on_one_intent_is_stopped_and_the_example_listed():
    after = _predictions(("svc_reisepass", "reisepass"), ("svc_personalausweis", "personalausweis"),
                         ("svc_ausweis_verlust", "ausweis-verlust"), ("greet", None))
    result = comparison.compare(CASES, BEFORE, after, margin=0.02)
    assert not result["gate"]["passed"]
    assert result["gate"]["worse_intents"] == ["svc_hundesteuer"]
    assert result["worse_examples"] == [{
        "id": "b", "turn": 0, "text": "Hund anmelden", "expected": "hundesteuer", "before": "hundesteuer",
        "after": "personalausweis", "intent_after": "svc_personalausweis",
    }]
    # A generous margin lets the same drop through.
    assert comparison.compare(CASES, BEFORE, after, margin=1.0)["gate"]["passed"]


# --------------------------------------------------------------------------- activation


class StandInRasa:
    """Stand-in for Rasa's model API (a real server is started in the integration test)."""

    def __init__(self) -> None:
        self.loaded: List[Path] = []
        self.fail = False

    def __call__(self, url: str, token: str, model: Path) -> None:
        if self.fail:
            raise JobError("Der Rasa-Server ist nicht erreichbar; es wurde nichts geändert.", 502)
        assert token
        self.loaded.append(model)


@pytest.fixture()
def env(tmp_path):
    url = scratch_db(tmp_path)
    settings = settings_for(url, tmp_path)
    settings.rasa_model_dir.mkdir(parents=True)
    jobs.active_model(settings).write_bytes(b"active model v1")
    return settings


def finished_job(settings, gate_passed: bool, content: bytes = b"candidate") -> TrainerJob:
    job_id = secrets.token_hex(8)
    model = jobs.job_dir(settings, job_id) / "rasa" / "candidate.tar.gz"
    model.parent.mkdir(parents=True)
    model.write_bytes(content + job_id.encode())
    job = TrainerJob(id=job_id, status="done", started_by="trainer-a", epochs_done=5, epochs_total=5,
                     model_path=str(model), model_sha256=hashlib.sha256(model.read_bytes()).hexdigest(),
                     gate_passed=gate_passed, phase="Fertig",
                     evaluation={"margin": 0.02, "turns": 4, "gate": {"passed": gate_passed, "reasons": ["x"]},
                                 "service_accuracy": {"before": 0.9, "after": 0.8 if not gate_passed else 0.95},
                                 "macro_f1": {"before": 0.8, "after": 0.7}, "per_intent": [
                                     {"intent": "svc_hundesteuer", "before": 1.0, "after": 0.5, "delta": -0.5,
                                      "support": 2, "worse": not gate_passed}],
                                 "worse_examples": [], "better_examples": 0})
    with session_scope(settings.db_url) as session:
        session.add(job)
    return job


def test_activation_installs_the_candidate_and_keeps_the_previous_for_rollback(env):
    rasa = StandInRasa()
    job = finished_job(env, gate_passed=True)
    swap = activation.activate(env, job.id, "trainer-a", "trainer", loader=rasa)
    active = jobs.active_model(env)
    assert active.read_bytes() == Path(job.model_path).read_bytes()
    assert rasa.loaded == [active]
    assert Path(swap.activation.previous_path).read_bytes() == b"active model v1"
    assert swap.activation.model_sha256 == job.model_sha256
    assert sorted(p.name for p in env.rasa_model_dir.iterdir()) == ["geldern.tar.gz"]
    back = activation.rollback(env, "trainer-a", loader=rasa)
    assert active.read_bytes() == b"active model v1"
    assert back.activation.kind == "rollback"
    assert len(rasa.loaded) == 2


def test_the_gate_stops_trainers_and_needs_a_supervisors_reason(env):
    rasa = StandInRasa()
    job = finished_job(env, gate_passed=False)
    with pytest.raises(JobError, match="Nur die Teamleitung"):
        activation.activate(env, job.id, "trainer-a", "trainer", loader=rasa)
    with pytest.raises(JobError, match="begründen"):
        activation.activate(env, job.id, "chefin", "supervisor", override_reason="passt", loader=rasa)
    assert rasa.loaded == [] and jobs.active_model(env).read_bytes() == b"active model v1"
    activation.activate(env, job.id, "chefin", "supervisor", override_reason="Hundesteuer-Fragen sind selten", loader=rasa)
    assert jobs.get_job(job.id, env.db_url).override_by == "chefin"
    assert activation.last_activation(env.db_url).reason == "Hundesteuer-Fragen sind selten"


def test_a_tampered_archive_is_never_loaded(env):
    rasa = StandInRasa()
    job = finished_job(env, gate_passed=True)
    Path(job.model_path).write_bytes(b"something else entirely")
    with pytest.raises(JobError, match="Prüfsumme"):
        activation.activate(env, job.id, "trainer-a", "trainer", loader=rasa)
    assert rasa.loaded == [] and jobs.active_model(env).read_bytes() == b"active model v1"


def test_an_archive_outside_the_job_folders_is_refused(env, tmp_path):
    rasa = StandInRasa()
    job = finished_job(env, gate_passed=True)
    outside = tmp_path / "upload.tar.gz"
    outside.write_bytes(b"uploaded")
    with session_scope(env.db_url) as session:
        row = session.get(TrainerJob, job.id)
        row.model_path = str(outside)
        row.model_sha256 = hashlib.sha256(b"uploaded").hexdigest()
    with pytest.raises(JobError, match="nicht aus einem Trainingslauf"):
        activation.activate(env, job.id, "trainer-a", "trainer", loader=rasa)
    assert rasa.loaded == []


def test_when_rasa_refuses_the_old_model_stays_installed(env):
    rasa = StandInRasa()
    rasa.fail = True
    job = finished_job(env, gate_passed=True)
    with pytest.raises(JobError, match="nicht erreichbar"):
        activation.activate(env, job.id, "trainer-a", "trainer", loader=rasa)
    assert jobs.active_model(env).read_bytes() == b"active model v1"
    assert activation.last_activation(env.db_url) is None


class _StandInModelApi(http.server.BaseHTTPRequestHandler):
    """Stand-in for Rasa's ``PUT /model`` checking the token like Rasa's ``requires_auth``."""

    calls: List[dict] = []

    def do_PUT(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ok = self.path.endswith("?token=geheim") and self.path.startswith("/model?")
        type(self).calls.append({"path": self.path.split("?")[0], "body": body, "ok": ok})
        self.send_response(204 if ok else 401)
        self.end_headers()

    def log_message(self, *args) -> None:  # noqa: D401
        pass


def test_the_model_api_is_called_with_the_token_and_the_path(tmp_path):
    server = http.server.HTTPServer(("127.0.0.1", 0), _StandInModelApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        model = tmp_path / "m.tar.gz"
        model.write_bytes(b"x")
        activation.rasa_load_model(url, "geheim", model)
        assert _StandInModelApi.calls[-1] == {"path": "/model", "body": {"model_file": str(model)}, "ok": True}
        with pytest.raises(JobError, match="Zugang abgelehnt"):
            activation.rasa_load_model(url, "falsch", model)
    finally:
        server.shutdown()


def test_only_one_job_at_a_time(env):
    import datetime as dt

    from servicecenter import leases

    job = jobs.create_job(env, "trainer-a", epochs=3)
    assert jobs.job_dir(env, job.id).joinpath("config.yml").exists()
    assert leases.current(jobs.JOB_LEASE, env.db_url).holder == job.id
    with pytest.raises(JobError, match="bereits ein Training"):
        jobs.create_job(env, "trainer-b")
    assert jobs.running_job(env.db_url).id == job.id
    # A job whose runner stopped heartbeating (process gone) is not "running" for ever ...
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=jobs.START_TTL_SECONDS + 1)
    assert leases.acquire(jobs.JOB_LEASE, job.id, jobs.START_TTL_SECONDS, env.db_url, now=past)
    assert jobs.running_job(env.db_url) is None
    stale = jobs.get_job(job.id, env.db_url)
    assert stale.status == "failed" and stale.error == jobs.INTERRUPTED_MESSAGE
    # ... and the next job starts.
    assert jobs.create_job(env, "trainer-b", epochs=1).started_by == "trainer-b"


def test_a_finished_job_that_kept_the_lease_does_not_block_the_next(env):
    from servicecenter import leases

    job = finished_job(env, gate_passed=True)
    assert leases.acquire(jobs.JOB_LEASE, job.id, 600, env.db_url)  # runner killed after recording "done"
    second = jobs.create_job(env, "trainer-b", epochs=1)
    assert leases.current(jobs.JOB_LEASE, env.db_url).holder == second.id


def test_the_runner_holds_the_lease_and_gives_it_back(env, monkeypatch):
    from servicecenter import leases

    job = jobs.create_job(env, "trainer-a", epochs=1)
    seen = []

    def fake_train(settings, record, lost=None):
        lease = leases.current(jobs.JOB_LEASE, settings.db_url)
        seen.append((lease.holder, (lease.expires_at - lease.heartbeat_at).total_seconds()))
        model = jobs.job_dir(settings, record.id) / "rasa" / "candidate.tar.gz"
        model.parent.mkdir(parents=True)
        model.write_bytes(b"model")
        jobs.update_job(settings.db_url, record.id, model_path=str(model), model_sha256=jobs.sha256_file(model))
        return model

    monkeypatch.setattr(runner, "train", fake_train)
    done = runner.run_job(env, job.id, evaluate_after=False)
    assert done.status == "done" and done.finished_at is not None
    assert seen == [(job.id, jobs.RUN_TTL_SECONDS)]
    assert leases.current(jobs.JOB_LEASE, env.db_url) is None


def test_a_runner_that_lost_its_lease_records_no_outcome_over_the_interruption(env, monkeypatch):
    import datetime as dt

    from servicecenter import leases

    job = jobs.create_job(env, "trainer-a", epochs=1)

    def stalled_train(settings, record, lost=None):
        # The runner stalled longer than its lease lived; another process reaped the job.
        past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
        leases.acquire(jobs.JOB_LEASE, record.id, 1, settings.db_url, now=past)
        jobs.reap_stale(settings.db_url)
        raise JobError("Das Training ist fehlgeschlagen (Rasa-Exit-Code 1); siehe Protokoll.")

    monkeypatch.setattr(runner, "train", stalled_train)
    result = runner.run_job(env, job.id, evaluate_after=False)
    assert result.status == "failed" and result.error == jobs.INTERRUPTED_MESSAGE


def test_the_runner_of_a_spawned_job_is_watched(env, monkeypatch):
    import sys

    from servicecenter import leases
    from servicecenter.stack import spawn

    def dying_runner(name, cmd, env_, log_dir, new_session=False):  # the runner dies at once, no outcome
        assert cmd[1:3] == ["-m", "servicecenter.trainer.runner"] and new_session
        assert env_["ASSISTANT_DATABASE_URL"] == env.db_url and log_dir == jobs.job_dir(env, cmd[3])
        return spawn(name, [sys.executable, "-c", "raise SystemExit(3)"], env_, log_dir)

    monkeypatch.setattr(runner, "spawn", dying_runner)
    job = runner.start_job(env, "trainer-a", epochs=1)
    import time

    deadline = time.monotonic() + 30
    while (jobs.get_job(job.id, env.db_url).status != "failed" or leases.current(jobs.JOB_LEASE, env.db_url)) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert jobs.get_job(job.id, env.db_url).error == jobs.INTERRUPTED_MESSAGE
    assert leases.current(jobs.JOB_LEASE, env.db_url) is None


# --------------------------------------------------------------------------- console


def test_console_job_page_shows_the_comparison_and_roles_decide_activation(env, monkeypatch):
    rasa = StandInRasa()
    monkeypatch.setattr(activation, "rasa_load_model", rasa)
    job = finished_job(env, gate_passed=False)
    trainer = client_for(env, "trainer")
    page = trainer.get(f"/console/trainer/models/jobs/{job.id}")
    assert page.status_code == 200
    assert "svc_hundesteuer <strong>(schlechter)</strong>" in page.text
    assert 'id="job-needs-supervisor"' in page.text
    token = csrf_of(trainer, f"/console/trainer/models/jobs/{job.id}")
    refused = trainer.post(f"/console/trainer/models/jobs/{job.id}/activate", data={"csrf_token": token})
    assert refused.status_code == 403
    assert jobs.active_model(env).read_bytes() == b"active model v1"

    supervisor = client_for(env, "supervisor")
    token = csrf_of(supervisor, f"/console/trainer/models/jobs/{job.id}")
    no_reason = supervisor.post(f"/console/trainer/models/jobs/{job.id}/activate", data={"csrf_token": token})
    assert no_reason.status_code == 400
    done = supervisor.post(f"/console/trainer/models/jobs/{job.id}/activate",
                           data={"csrf_token": token, "reason": "Neue Fragen zum Ausweis sind wichtiger"},
                           follow_redirects=True)
    assert done.status_code == 200 and "Das neue Modell ist aktiv" in done.text
    assert jobs.active_model(env).read_bytes() == Path(job.model_path).read_bytes()
    back = supervisor.post("/console/trainer/models/rollback", data={"csrf_token": token}, follow_redirects=True)
    assert "vorherige Modell ist wieder aktiv" in back.text
    assert jobs.active_model(env).read_bytes() == b"active model v1"


def test_console_job_status_json_and_log(env):
    job = finished_job(env, gate_passed=True)
    log = jobs.job_dir(env, job.id) / "train.log"
    log.write_text("Epochs: 100%|██████████| 5/5 [00:01<00:00]\nTraining finished.\n", encoding="utf-8")
    with session_scope(env.db_url) as session:
        session.get(TrainerJob, job.id).log_path = str(log)
    client = client_for(env, "trainer")
    status = client.get(f"/console/trainer/models/jobs/{job.id}/status").json()
    assert status["finished"] and status["epochs_done"] == 5 and status["gate_passed"]
    assert "Training finished." in client.get(f"/console/trainer/models/jobs/{job.id}/log").text
    assert client.get("/console/trainer/models/jobs/0123456789abcdef").status_code == 404
    assert client.get("/console/trainer/models/jobs/..%2F..%2Fetc").status_code == 404
    agent = client_for(env, "agent")
    assert agent.get(f"/console/trainer/models/jobs/{job.id}/status").status_code == 403


# --------------------------------------------------------------------------- command line


@pytest.fixture()
def cli_env(env, monkeypatch):
    from servicecenter.settings import get_settings

    monkeypatch.setenv("ASSISTANT_DATABASE_URL", env.db_url)
    monkeypatch.setenv("ASSISTANT_MODELS_DIR", str(env.models_dir))
    monkeypatch.setenv("ASSISTANT_VAR_DIR", str(env.var_dir))
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


def test_cli_activate_and_rollback_without_a_running_server(cli_env, capsys):
    from servicecenter.cli import main

    job = finished_job(cli_env, gate_passed=False)
    assert main(["activate", job.id, "--no-server"]) == 1
    assert "Nur die Teamleitung" in capsys.readouterr().err
    assert jobs.active_model(cli_env).read_bytes() == b"active model v1"
    assert main(["activate", job.id, "--no-server", "--override-reason", "Neue Beispiele sind wichtiger"]) == 0
    out = capsys.readouterr().out
    assert "installed as" in out and "previous model kept" in out
    assert jobs.active_model(cli_env).read_bytes() == Path(job.model_path).read_bytes()
    assert main(["activate", "--rollback", "--no-server"]) == 0
    assert jobs.active_model(cli_env).read_bytes() == b"active model v1"


def test_cli_refuses_meaningless_combinations(cli_env, capsys):
    from servicecenter.cli import main

    assert main(["activate", "--no-server"]) == 2
    assert main(["train", "--epochs", "3"]) == 2
    assert "--candidate" in capsys.readouterr().err
    assert main(["evaluate"]) == 2
    assert "no finished training job" in capsys.readouterr().err


def test_comparison_table_for_the_command_line():
    from servicecenter.trainer.cli import format_comparison

    after = _predictions(("svc_reisepass", "reisepass"), ("svc_personalausweis", "personalausweis"),
                         ("svc_ausweis_verlust", "ausweis-verlust"), ("greet", None))
    table = format_comparison(comparison.compare(CASES, BEFORE, after, margin=0.02))
    assert "svc_hundesteuer" in table and "WORSE" in table
    assert "gate: NOT PASSED" in table
    assert "'Hund anmelden': expected hundesteuer, before hundesteuer, now personalausweis" in table


def test_cross_validation_runs_rasas_nlu_test_on_the_candidates_data(env, monkeypatch):
    import subprocess as sp

    calls = []

    def fake_run(cmd, **kwargs):  # stand-in for `rasa test nlu --cross-validation` (minutes of training)
        calls.append(cmd)
        out = Path(cmd[cmd.index("--out") + 1])
        out.mkdir(parents=True)
        (out / "intent_report.json").write_text(json.dumps({
            "svc_reisepass": {"precision": 1.0, "recall": 0.8, "f1-score": 0.889, "support": 10},
            "ask_fee": {"precision": 0.9, "recall": 1.0, "f1-score": 0.947, "support": 9},
            "accuracy": 0.9, "macro avg": {"f1-score": 0.918}, "weighted avg": {"f1-score": 0.916},
        }), encoding="utf-8")
        return sp.CompletedProcess(cmd, 0)

    monkeypatch.setattr(cross_validation.subprocess, "run", fake_run)
    job = finished_job(env, gate_passed=True)
    result = cross_validation.cross_validate(env, job, 3)
    assert calls[0][calls[0].index("--folds") + 1] == "3" and "--cross-validation" in calls[0]
    assert calls[0][calls[0].index("--config") + 1] == str(jobs.job_dir(env, job.id) / "config.yml")
    assert result["folds"] == 3 and result["macro_f1"] == 0.918
    assert [i["intent"] for i in result["weakest"]] == ["svc_reisepass", "ask_fee"]


def test_console_shows_the_cross_validation_figures(env):
    job = finished_job(env, gate_passed=True)
    with session_scope(env.db_url) as session:
        row = session.get(TrainerJob, job.id)
        row.evaluation = {**row.evaluation, "cross_validation": {
            "folds": 3, "accuracy": 0.9, "macro_f1": 0.918, "test_examples": 19,
            "weakest": [{"intent": "svc_reisepass", "f1": 0.889}]}}
    page = client_for(env, "trainer").get(f"/console/trainer/models/jobs/{job.id}").text
    assert "Kreuzvalidierung der Trainingsdaten (3 Teile)" in page
    assert "Makro-F1 0.918 über 19 Beispiele" in page and "svc_reisepass (0.89)" in page
