"""Retrain, compare, activate: candidate models from the project's own training jobs.

- ``start_job`` trains into ``models/trainer/jobs/<id>/rasa/candidate.tar.gz`` (never over the
  active model), one job at a time (across all console processes: an ``fcntl`` lock under
  ``var/`` around "none running? then record"), with the log in the job folder and the DIET
  epochs as progress; afterwards the candidate and the active model are run over the held-out set.
- ``compare`` gives per-intent F1 before/after, service accuracy and the examples that got
  worse; ``gate`` refuses a candidate that is worse on any intent by more than the margin.
- ``activate`` loads a candidate into the running Rasa server through its authenticated
  ``PUT /model`` (conversations live in the tracker store and carry on) and installs it as
  ``models/rasa/geldern.tar.gz``; the replaced model is kept for ``rollback``. Only archives
  whose SHA-256 matches a finished job (or a recorded previous model) are ever loaded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from sqlalchemy import select, update

from servicecenter import PROJECT_ROOT
from servicecenter.db import session_scope
from servicecenter.dialogue import slug_for
from servicecenter.files import atomic_copy
from servicecenter.settings import Settings
from servicecenter.trainer.config import TrainerSettings, trainer_settings
from servicecenter.trainer.errors import TrainerError
from servicecenter.trainer.models import TrainerActivation, TrainerJob

log = logging.getLogger(__name__)

RASA = Path(sys.executable).parent / "rasa"
ACTIVE_NAME = "geldern.tar.gz"
CANDIDATE_NAME = "candidate"
NO_SERVICE = "(keine Leistung)"
RUNNING = ("queued", "running", "evaluating")
_EPOCHS = re.compile(r"Epochs:\s+\d+%.*?\|\s*(\d+)/(\d+)")
_start_lock = threading.Lock()


class JobError(TrainerError, RuntimeError):
    """A job cannot be started or used."""

    default_status = 409


# --------------------------------------------------------------------------- paths and hashes


def trainer_dir(settings: Settings) -> Path:
    return settings.models_dir / "trainer"


def job_dir(settings: Settings, job_id: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{8,32}", job_id or ""):
        raise JobError("Diesen Trainingslauf gibt es nicht.", 404)
    return trainer_dir(settings) / "jobs" / job_id


def active_model(settings: Settings) -> Path:
    return settings.rasa_model_dir / ACTIVE_NAME


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def reduced_config(source: Path, target: Path, epochs: Optional[int]) -> Path:
    """A copy of ``config.yml`` with the DIET epochs set (faster runs for tests and trials)."""
    import yaml

    config = yaml.safe_load(source.read_text(encoding="utf-8"))
    if epochs is not None:
        for component in config.get("pipeline") or []:
            if component.get("name") == "DIETClassifier":
                component["epochs"] = int(epochs)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return target


def configured_epochs(config: Path) -> int:
    import yaml

    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    for component in data.get("pipeline") or []:
        if component.get("name") == "DIETClassifier":
            return int(component.get("epochs", 300))
    return 0


def progress_from_log(text: str) -> Tuple[int, int]:
    """(epochs done, epochs total) of the last DIET progress bar in Rasa's log."""
    matches = _EPOCHS.findall(text.replace("\r", "\n"))
    if not matches:
        return 0, 0
    done, total = matches[-1]
    return int(done), int(total)


# --------------------------------------------------------------------------- job records


def _pid_alive(pid: Optional[int]) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_stale(url: Optional[str] = None) -> None:
    """Jobs whose process is gone (console restarted, machine rebooted) are marked failed."""
    with session_scope(url) as session:
        for job in session.execute(select(TrainerJob).where(TrainerJob.status.in_(RUNNING))).scalars():
            _reap_children()
            age = (dt.datetime.now(dt.timezone.utc) - job.created_at).total_seconds()
            if (job.pid is None and age > 120) or (job.pid is not None and not _pid_alive(job.pid)):
                job.status = "failed"
                job.error = "Der Trainingslauf wurde unterbrochen (Prozess beendet)."
                job.finished_at = dt.datetime.now(dt.timezone.utc)


def get_job(job_id: str, url: Optional[str] = None) -> TrainerJob:
    with session_scope(url) as session:
        job = session.get(TrainerJob, job_id)
    if job is None:
        raise JobError("Diesen Trainingslauf gibt es nicht.", 404)
    return job


def list_jobs(url: Optional[str] = None, limit: int = 20) -> List[TrainerJob]:
    reap_stale(url)
    with session_scope(url) as session:
        return list(session.execute(
            select(TrainerJob).order_by(TrainerJob.created_at.desc()).limit(limit)
        ).scalars())


def running_job(url: Optional[str] = None) -> Optional[TrainerJob]:
    reap_stale(url)
    with session_scope(url) as session:
        return session.execute(
            select(TrainerJob).where(TrainerJob.status.in_(RUNNING)).limit(1)
        ).scalar_one_or_none()


def _update(url: Optional[str], job_id: str, **values: Any) -> None:
    with session_scope(url) as session:
        session.execute(update(TrainerJob).where(TrainerJob.id == job_id).values(**values))


START_LOCK_NAME = "trainer-start.lock"
# How long a start waits for another console process that is recording its job right now.
START_LOCK_WAIT = 10.0
BUSY_MESSAGE = "Es läuft bereits ein Training. Bitte warten Sie, bis es fertig ist."
STARTING_MESSAGE = ("Gerade wird an einem anderen Arbeitsplatz ein Training gestartet. "
                    "Bitte laden Sie die Seite gleich neu.")


def start_lock_path(settings: Settings) -> Path:
    return settings.var_dir / START_LOCK_NAME


@contextmanager
def start_lock(settings: Settings, wait_seconds: Optional[float] = None) -> Iterator[None]:
    """Serialise "is a job running? then record one" across threads *and* processes.

    Several console workers share the database but not memory: an exclusive ``fcntl`` lock
    on a file under ``var/`` makes the check and the insert one step for all of them. The
    lock is held only for those milliseconds; a caller that cannot get it within
    ``wait_seconds`` is refused (German message) instead of hanging the request.
    """
    import fcntl

    path = start_lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _start_lock:
        handle = path.open("a+")
        try:
            wait = START_LOCK_WAIT if wait_seconds is None else wait_seconds
            deadline = time.monotonic() + max(0.0, wait)
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise JobError(STARTING_MESSAGE) from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        finally:
            handle.close()


def create_job(settings: Settings, actor: str, epochs: Optional[int] = None,
               lock_wait_seconds: Optional[float] = None) -> TrainerJob:
    """Record a new job; refused while another one runs (in this or any other console process)."""
    tsettings = trainer_settings()
    epochs = epochs if epochs is not None else tsettings.epochs
    with start_lock(settings, lock_wait_seconds):
        if running_job(settings.db_url) is not None:
            raise JobError(BUSY_MESSAGE)
        job_id = secrets.token_hex(8)
        folder = job_dir(settings, job_id)
        config = reduced_config(PROJECT_ROOT / "config.yml", folder / "config.yml", epochs)
        job = TrainerJob(
            id=job_id, status="queued", started_by=actor, config_name="config.yml" if epochs is None
            else f"config.yml ({epochs} Epochen)", epochs_done=0, epochs_total=configured_epochs(config),
            phase="Wartet", pid=None, log_path=str(folder / "train.log"),
        )
        with session_scope(settings.db_url) as session:
            session.add(job)
    log.info("trainer: job %s created by %s", job_id, actor)
    return job


# --------------------------------------------------------------------------- running a job


_children: Dict[str, "subprocess.Popen[bytes]"] = {}


def train(settings: Settings, job: TrainerJob, timeout_minutes: Optional[int] = None) -> Path:
    """Run ``rasa train`` for the job into its candidate folder; progress goes into the record."""
    folder = job_dir(settings, job.id)
    out_dir = folder / "rasa"
    log_path = Path(job.log_path or folder / "train.log")
    timeout = 60 * (timeout_minutes or trainer_settings().train_timeout_minutes)
    cmd = [
        str(RASA), "train",
        "--config", str(folder / "config.yml"),
        "--domain", str(PROJECT_ROOT / "bot" / "domain"),
        "--data", str(trainer_settings().training_data_dir),
        "--out", str(out_dir),
        "--fixed-model-name", CANDIDATE_NAME,
        "--force",
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    started = time.monotonic()
    _update(settings.db_url, job.id, status="running", phase="Training",
            started_at=dt.datetime.now(dt.timezone.utc))
    with log_path.open("w", encoding="utf-8") as log_file:
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, stdout=log_file, stderr=subprocess.STDOUT, env=env)
        try:
            while proc.poll() is None:
                time.sleep(2)
                done, total = progress_from_log(log_path.read_text(encoding="utf-8", errors="replace"))
                if total:
                    _update(settings.db_url, job.id, epochs_done=done, epochs_total=total)
                if time.monotonic() - started > timeout:
                    proc.terminate()
                    proc.wait(timeout=30)
                    raise JobError(f"Das Training hat länger als {timeout // 60} Minuten gedauert und wurde beendet.")
        except BaseException:
            if proc.poll() is None:
                proc.kill()
            raise
    if proc.returncode != 0:
        raise JobError(f"Das Training ist fehlgeschlagen (Rasa-Exit-Code {proc.returncode}); siehe Protokoll.")
    model = out_dir / f"{CANDIDATE_NAME}.tar.gz"
    if not model.exists():
        raise JobError("Das Training hat kein Modell geschrieben; siehe Protokoll.")
    done, total = progress_from_log(log_path.read_text(encoding="utf-8", errors="replace"))
    _update(settings.db_url, job.id, model_path=str(model), model_sha256=sha256_file(model),
            epochs_done=total or done, epochs_total=total or job.epochs_total)
    log.info("trainer: job %s trained in %.0fs", job.id, time.monotonic() - started)
    return model


def run_job(settings: Settings, job_id: str, evaluate_after: bool = True,
            evaluator: Optional[Callable[[Settings, Path, Path], Dict[str, Any]]] = None) -> TrainerJob:
    """Train, evaluate and judge one job (in the caller's process)."""
    _update(settings.db_url, job_id, pid=os.getpid())
    job = get_job(job_id, settings.db_url)
    try:
        model = train(settings, job)
        if evaluate_after:
            _update(settings.db_url, job_id, status="evaluating", phase="Bewertung auf dem Testsatz")
            evaluation = (evaluator or evaluate_candidate)(settings, model, active_model(settings))
            folds = trainer_settings().cross_validation_folds
            if folds:
                _update(settings.db_url, job_id, phase=f"Kreuzvalidierung ({folds} Teile)")
                evaluation["cross_validation"] = cross_validate(settings, job, folds)
            _update(settings.db_url, job_id, evaluation=evaluation, gate_passed=bool(evaluation["gate"]["passed"]))
        _update(settings.db_url, job_id, status="done", phase="Fertig", finished_at=dt.datetime.now(dt.timezone.utc))
    except JobError as err:
        _update(settings.db_url, job_id, status="failed", phase="Fehlgeschlagen", error=err.message[:1000],
                finished_at=dt.datetime.now(dt.timezone.utc))
    except Exception as err:  # noqa: BLE001 - recorded for the console, logged with traceback
        log.exception("trainer: job %s failed", job_id)
        _update(settings.db_url, job_id, status="failed", phase="Fehlgeschlagen",
                error=f"Unerwarteter Fehler: {type(err).__name__}"[:1000],
                finished_at=dt.datetime.now(dt.timezone.utc))
    return get_job(job_id, settings.db_url)


def start_job(settings: Settings, actor: str, epochs: Optional[int] = None,
              evaluate_after: bool = True) -> TrainerJob:
    """Create a job and run it in its own process (training and evaluation load TensorFlow;
    the console stays small and responsive, and a console restart does not stop the job)."""
    job = create_job(settings, actor, epochs)
    folder = job_dir(settings, job.id)
    cmd = [sys.executable, "-m", "servicecenter.trainer.jobs", job.id]
    if not evaluate_after:
        cmd.append("--no-eval")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", ASSISTANT_DATABASE_URL=settings.db_url,
               ASSISTANT_MODELS_DIR=str(settings.models_dir), ASSISTANT_VAR_DIR=str(settings.var_dir),
               ASSISTANT_KNOWLEDGE_DIR=str(settings.knowledge_dir))
    with (folder / "worker.log").open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    _update(settings.db_url, job.id, pid=proc.pid)
    _children[job.id] = proc
    return get_job(job.id, settings.db_url)


def _reap_children() -> None:
    for job_id, proc in list(_children.items()):
        if proc.poll() is not None:
            _children.pop(job_id, None)


# --------------------------------------------------------------------------- evaluation


def expected_label(expected: Mapping[str, Any]) -> str:
    from servicecenter.dialogue import intent_for

    service = expected.get("service")
    return intent_for(service) if service else NO_SERVICE


def predicted_label(got: Mapping[str, Any]) -> str:
    intent = got.get("intent") or ""
    return intent if slug_for(intent) else NO_SERVICE


def heldout_predictions(settings: Settings, model: Path, actions_url: str, work: Path) -> List[Dict[str, Any]]:
    """Run the held-out set through ``model`` (scratch database, the given action server)."""
    from servicecenter.batch import run_batch_file
    from servicecenter.evaluation import HELDOUT_FILE, load_jsonl

    models_dir = work / f"m-{secrets.token_hex(4)}"
    (models_dir / "rasa").mkdir(parents=True)
    os.symlink(model.resolve(), models_dir / "rasa" / "model.tar.gz")
    scoped = settings.copy(update={"models_dir": models_dir})
    out = work / f"predictions-{secrets.token_hex(4)}.jsonl"
    run_batch_file(HELDOUT_FILE, out, scoped, actions_url=actions_url)
    return load_jsonl(out)


def compare(cases: Sequence[Mapping[str, Any]], before: Sequence[Mapping[str, Any]],
            after: Sequence[Mapping[str, Any]], margin: float) -> Dict[str, Any]:
    """Per-intent F1, service accuracy and worse examples of two prediction sets; the gate."""
    from servicecenter.evaluation import align, label_scores, service_accuracy

    turns_before, turns_after = align(cases, before), align(cases, after)
    expected = [expected_label(t.expected) for t in turns_before]
    scores_before = label_scores(expected, [predicted_label(t.got) for t in turns_before])
    scores_after = label_scores(expected, [predicted_label(t.got) for t in turns_after])
    labels = sorted(set(scores_before["per_label"]) | set(scores_after["per_label"]))
    per_intent = []
    for label in labels:
        b = scores_before["per_label"].get(label, {"f1": 0.0, "support": 0})
        a = scores_after["per_label"].get(label, {"f1": 0.0, "support": 0})
        support = max(int(b["support"]), int(a["support"]))
        per_intent.append({
            "intent": label, "before": round(b["f1"], 4), "after": round(a["f1"], 4),
            "delta": round(a["f1"] - b["f1"], 4), "support": support,
            "worse": support > 0 and a["f1"] < b["f1"] - margin - 1e-9,
        })
    worse_examples = []
    better_examples = 0
    for tb, ta in zip(turns_before, turns_after, strict=True):
        right_before = tb.got.get("service") == tb.expected.get("service")
        right_after = ta.got.get("service") == ta.expected.get("service")
        if right_before and not right_after:
            worse_examples.append({
                "id": tb.case_id, "turn": tb.index, "text": tb.text,
                "expected": tb.expected.get("service"), "before": tb.got.get("service"),
                "after": ta.got.get("service"), "intent_after": ta.got.get("intent"),
            })
        elif right_after and not right_before:
            better_examples += 1
    acc_before = service_accuracy(turns_before) or 0.0
    acc_after = service_accuracy(turns_after) or 0.0
    result = {
        "turns": len(turns_before),
        "margin": margin,
        "service_accuracy": {"before": round(acc_before, 4), "after": round(acc_after, 4),
                             "delta": round(acc_after - acc_before, 4)},
        "macro_f1": {"before": round(scores_before["macro_f1"], 4), "after": round(scores_after["macro_f1"], 4)},
        "per_intent": per_intent,
        "worse_examples": worse_examples,
        "better_examples": better_examples,
    }
    result["gate"] = gate(result, margin)
    return result


def gate(comparison: Mapping[str, Any], margin: float) -> Dict[str, Any]:
    """Passed unless an intent's F1 or the service accuracy drops by more than ``margin``."""
    worse = [row["intent"] for row in comparison["per_intent"]
             if row["support"] > 0 and row["after"] < row["before"] - margin - 1e-9]
    acc = comparison["service_accuracy"]
    accuracy_drop = acc["after"] < acc["before"] - margin - 1e-9
    reasons = []
    if worse:
        reasons.append(f"{len(worse)} Anliegen schlechter als erlaubt ({margin:.2f}): " + ", ".join(worse[:10]))
    if accuracy_drop:
        reasons.append(f"Trefferquote Leistungen sinkt von {acc['before']:.3f} auf {acc['after']:.3f}")
    return {"passed": not worse and not accuracy_drop, "worse_intents": worse, "reasons": reasons}


def evaluate_candidate(settings: Settings, candidate: Path, active: Path,
                       margin: Optional[float] = None) -> Dict[str, Any]:
    """Both models over the held-out set with one action server; the comparison and gate."""
    from servicecenter.evaluation import HELDOUT_FILE, load_jsonl
    from servicecenter.stack import free_port, start_actions

    margin = trainer_settings().gate_margin if margin is None else margin
    cases = load_jsonl(HELDOUT_FILE)
    with tempfile.TemporaryDirectory(prefix="trainer-eval-") as tmp:
        work = Path(tmp)
        from servicecenter.batch import isolated_settings

        scratch = isolated_settings(settings, work)
        port = free_port()
        actions = start_actions(scratch, port, work)
        try:
            url = f"http://127.0.0.1:{port}/webhook"
            before = _cached_predictions(settings, active, lambda: heldout_predictions(settings, active, url, work))
            after = heldout_predictions(settings, candidate, url, work)
        finally:
            actions.popen.terminate()
            actions.popen.wait(timeout=15)
    result = compare(cases, before, after, margin)
    result["active_sha256"] = sha256_file(active)
    result["candidate_sha256"] = sha256_file(candidate)
    return result


def _cached_predictions(settings: Settings, model: Path, run: Callable[[], List[Dict[str, Any]]]) -> List[Dict[str, Any]]:
    """The active model's held-out predictions, kept per model hash and held-out file hash."""
    from servicecenter.evaluation import HELDOUT_FILE

    key = f"{sha256_file(model)[:16]}-{sha256_file(HELDOUT_FILE)[:16]}"
    cache = trainer_dir(settings) / "eval-cache" / f"{key}.json"
    if cache.exists():
        return json.loads(cache.read_text(encoding="utf-8"))
    predictions = run()
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(predictions, ensure_ascii=False), encoding="utf-8")
    return predictions


def cross_validate(settings: Settings, job: TrainerJob, folds: int) -> Dict[str, Any]:
    """Rasa's NLU cross-validation of the candidate's training data (``rasa test nlu``)."""
    from servicecenter.evaluation import summarize_intent_report

    folder = job_dir(settings, job.id)
    out = folder / "cross-validation"
    cmd = [
        str(RASA), "test", "nlu",
        "--nlu", str(trainer_settings().training_data_dir / "nlu"),
        "--config", str(folder / "config.yml"),
        "--cross-validation", "--folds", str(folds),
        "--out", str(out), "--no-plot",
    ]
    log_path = Path(job.log_path or folder / "train.log")
    with log_path.open("a", encoding="utf-8") as log_file:
        result = subprocess.run(cmd, cwd=PROJECT_ROOT, stdout=log_file, stderr=subprocess.STDOUT,
                                timeout=60 * trainer_settings().train_timeout_minutes * folds,
                                env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    report = out / "intent_report.json"
    if result.returncode != 0 or not report.exists():
        return {"folds": folds, "error": "Die Kreuzvalidierung ist fehlgeschlagen; siehe Protokoll."}
    summary = summarize_intent_report(json.loads(report.read_text(encoding="utf-8")))
    summary["folds"] = folds
    return summary


# --------------------------------------------------------------------------- activation


def rasa_load_model(rasa_url: str, token: str, model: Path, timeout: float = 300.0) -> None:
    """Ask the running Rasa server to load ``model`` (authenticated ``PUT /model``)."""
    import requests

    try:
        response = requests.put(
            f"{rasa_url.rstrip('/')}/model", params={"token": token},
            json={"model_file": str(model.resolve())}, timeout=timeout,
        )
    except requests.RequestException as err:
        raise JobError("Der Rasa-Server ist nicht erreichbar; es wurde nichts geändert.", 502) from err
    if response.status_code == 401 or response.status_code == 403:
        raise JobError("Der Rasa-Server hat den Zugang abgelehnt (Token); es wurde nichts geändert.", 502)
    if response.status_code != 204:
        raise JobError(f"Der Rasa-Server konnte das Modell nicht laden (HTTP {response.status_code}).", 502)


def _install(source: Path, target: Path) -> None:
    """Copy ``source`` over ``target`` atomically (a temp name Rasa's model glob never sees)."""
    atomic_copy(source, target)


@dataclasses.dataclass(frozen=True)
class Swap:
    activation: TrainerActivation
    server_loaded: bool


def _swap(settings: Settings, model: Path, sha: str, actor: str, kind: str, job_id: Optional[str],
          reason: Optional[str], rasa_url: Optional[str], load_server: bool,
          loader: Optional[Callable[[str, str, Path], None]]) -> Swap:
    from servicecenter.secrets import rasa_api_token

    loader = loader or rasa_load_model
    active = active_model(settings)
    previous_path, previous_sha = None, None
    backup_dir = trainer_dir(settings) / "previous"
    if active.exists():
        previous_sha = sha256_file(active)
        backup_dir.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
        backup = backup_dir / f"{stamp}-{previous_sha[:12]}.tar.gz"
        shutil.copyfile(active, backup)
        previous_path = str(backup)
    _install(model, active)
    if sha256_file(active) != sha:
        raise JobError("Die Modelldatei hat sich beim Kopieren verändert; Aktivierung abgebrochen.", 500)
    if load_server:
        try:
            loader(rasa_url or settings.rasa_url, rasa_api_token(settings), active)
        except JobError:
            if previous_path:
                _install(Path(previous_path), active)  # the server still runs the old model
            raise
    with session_scope(settings.db_url) as session:
        record = TrainerActivation(
            job_id=job_id, kind=kind, model_sha256=sha, model_path=str(model),
            previous_sha256=previous_sha, previous_path=previous_path, activated_by=actor,
            reason=(reason or None),
        )
        session.add(record)
        session.flush()
    log.info("trainer: %s by %s (%s -> %s)", kind, actor, (previous_sha or "-")[:12], sha[:12])
    return Swap(record, load_server)


def activate(settings: Settings, job_id: str, actor: str, role: str, override_reason: Optional[str] = None,
             rasa_url: Optional[str] = None, load_server: bool = True,
             loader: Optional[Callable[[str, str, Path], None]] = None) -> Swap:
    """Put a finished job's candidate live; the gate must pass or a supervisor overrides with a reason."""
    job = get_job(job_id, settings.db_url)
    if job.status != "done" or not job.model_path or not job.model_sha256:
        raise JobError("Nur ein fertig trainierter und bewerteter Kandidat kann aktiviert werden.")
    model = Path(job.model_path)
    try:
        model.relative_to(trainer_dir(settings) / "jobs")
    except ValueError:
        raise JobError("Dieses Modell stammt nicht aus einem Trainingslauf der Konsole.", 403) from None
    if not model.is_file() or sha256_file(model) != job.model_sha256:
        raise JobError("Die Modelldatei fehlt oder wurde verändert (Prüfsumme stimmt nicht); nicht aktiviert.", 403)
    reason = (override_reason or "").strip()
    if not job.gate_passed:
        if role != "supervisor":
            raise JobError("Der Kandidat ist bei einzelnen Anliegen schlechter. Nur die Teamleitung kann ihn "
                           "trotzdem aktivieren.", 403)
        if len(reason) < 10:
            raise JobError("Bitte begründen Sie, warum der Kandidat trotzdem aktiviert wird (mind. 10 Zeichen).", 400)
        _update(settings.db_url, job_id, override_by=actor, override_reason=reason[:500])
    return _swap(settings, model, job.model_sha256, actor, "activate", job_id, reason[:500] or None,
                 rasa_url, load_server, loader)


def last_activation(url: Optional[str] = None) -> Optional[TrainerActivation]:
    with session_scope(url) as session:
        return session.execute(
            select(TrainerActivation).order_by(TrainerActivation.activated_at.desc(), TrainerActivation.id.desc())
            .limit(1)
        ).scalar_one_or_none()


def activations(url: Optional[str] = None, limit: int = 20) -> List[TrainerActivation]:
    with session_scope(url) as session:
        return list(session.execute(
            select(TrainerActivation).order_by(TrainerActivation.activated_at.desc(), TrainerActivation.id.desc())
            .limit(limit)
        ).scalars())


def rollback(settings: Settings, actor: str, rasa_url: Optional[str] = None, load_server: bool = True,
             loader: Optional[Callable[[str, str, Path], None]] = None) -> Swap:
    """Bring back the model that the last activation replaced (checked by its recorded hash)."""
    last = last_activation(settings.db_url)
    if last is None or not last.previous_path or not last.previous_sha256:
        raise JobError("Es gibt kein vorheriges Modell, zu dem zurückgekehrt werden kann.")
    previous = Path(last.previous_path)
    if not previous.is_file() or sha256_file(previous) != last.previous_sha256:
        raise JobError("Das vorherige Modell fehlt oder wurde verändert (Prüfsumme stimmt nicht).", 403)
    return _swap(settings, previous, last.previous_sha256, actor, "rollback", None,
                 f"zurück zum Stand vor {last.activated_at:%d.%m.%Y %H:%M}", rasa_url, load_server, loader)


def elapsed(job: TrainerJob, now: Optional[dt.datetime] = None) -> str:
    if not job.started_at:
        return "–"
    end = job.finished_at or now or dt.datetime.now(dt.timezone.utc)
    seconds = max(0, int((end - job.started_at).total_seconds()))
    return f"{seconds // 60} Min. {seconds % 60:02d} s"


def status_payload(job: TrainerJob) -> Dict[str, Any]:
    """What the console's progress display polls."""
    return {
        "id": job.id, "status": job.status, "phase": job.phase, "epochs_done": job.epochs_done,
        "epochs_total": job.epochs_total, "elapsed": elapsed(job), "error": job.error,
        "gate_passed": job.gate_passed, "finished": job.status in ("done", "failed"),
    }


def settings_summary(tsettings: Optional[TrainerSettings] = None) -> Dict[str, Any]:
    t = tsettings or trainer_settings()
    return {"gate_margin": t.gate_margin, "epochs": t.epochs}


def _main(argv: Optional[List[str]] = None) -> int:
    """Worker entry point: ``python -m servicecenter.trainer.jobs <job id> [--no-eval]``."""
    import argparse

    from servicecenter.settings import get_settings

    parser = argparse.ArgumentParser(prog="servicecenter.trainer.jobs")
    parser.add_argument("job_id")
    parser.add_argument("--no-eval", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    job = run_job(get_settings(), args.job_id, evaluate_after=not args.no_eval)
    return 0 if job.status == "done" else 1


if __name__ == "__main__":
    sys.exit(_main())
