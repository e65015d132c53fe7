"""The job runner: trains a recorded job's candidate, evaluates it and records the outcome.

``start_job`` records a job and runs it in a process of its own (``python -m
servicecenter.trainer.runner <job id>``): training and evaluation load TensorFlow, the
console stays small, and a console restart does not stop the job. ``run_job`` (in that
process, or in ``assistant train --candidate``) takes over the job lease and renews it
while it works; ``train`` runs ``rasa train`` into ``models/trainer/jobs/<id>/rasa/``
(never over the active model), with the log in the job folder and the DIET epochs as
progress.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from sqlalchemy import update

from servicecenter import PROJECT_ROOT, leases
from servicecenter.db import session_scope
from servicecenter.settings import Settings, child_environment, get_trainer_settings
from servicecenter.stack import child_env, spawn
from servicecenter.trainer.comparison import evaluate_candidate
from servicecenter.trainer.cross_validation import cross_validate
from servicecenter.trainer.errors import JobError
from servicecenter.trainer.jobs import (
    CANDIDATE_NAME,
    HEARTBEAT_SECONDS,
    JOB_LEASE,
    RASA,
    RUN_TTL_SECONDS,
    RUNNING,
    active_model,
    create_job,
    get_job,
    job_dir,
    mark_interrupted,
    sha256_file,
    update_job,
)
from servicecenter.trainer.models import TrainerJob
from servicecenter.training import separate_rasa_cache

log = logging.getLogger(__name__)

_EPOCHS = re.compile(r"Epochs:\s+\d+%.*?\|\s*(\d+)/(\d+)")
LEASE_LOST_MESSAGE = ("Der Trainingslauf wurde abgebrochen: er hat sich zu lange nicht gemeldet "
                      "und gilt als beendet.")


def progress_from_log(text: str) -> Tuple[int, int]:
    """(epochs done, epochs total) of the last DIET progress bar in Rasa's log."""
    matches = _EPOCHS.findall(text.replace("\r", "\n"))
    if not matches:
        return 0, 0
    done, total = matches[-1]
    return int(done), int(total)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def train(settings: Settings, job: TrainerJob, timeout_minutes: Optional[int] = None,
          lost: Optional[threading.Event] = None) -> Path:
    """Run ``rasa train`` for the job into its candidate folder; progress goes into the record.

    ``lost`` (the heartbeat's flag): set when the job lease was lost, which stops the training.
    """
    folder = job_dir(settings, job.id)
    out_dir = folder / "rasa"
    log_path = Path(job.log_path or folder / "train.log")
    timeout = 60 * (timeout_minutes or get_trainer_settings().train_timeout_minutes)
    cmd = [
        str(RASA), "train",
        "--config", str(folder / "config.yml"),
        "--domain", str(PROJECT_ROOT / "bot" / "domain"),
        "--data", str(get_trainer_settings().training_data_dir),
        "--out", str(out_dir),
        "--fixed-model-name", CANDIDATE_NAME,
        "--force",
    ]
    # A forced training: no Rasa training cache, so the project's .rasa/cache stays intact.
    env = child_environment(extra={"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1", **separate_rasa_cache()})
    started = time.monotonic()
    update_job(settings.db_url, job.id, status="running", phase="Training", started_at=_now())
    with log_path.open("w", encoding="utf-8") as log_file:
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, stdout=log_file, stderr=subprocess.STDOUT, env=env)
        try:
            while proc.poll() is None:
                time.sleep(2)
                done, total = progress_from_log(log_path.read_text(encoding="utf-8", errors="replace"))
                if total:
                    update_job(settings.db_url, job.id, epochs_done=done, epochs_total=total)
                if lost is not None and lost.is_set():
                    raise JobError(LEASE_LOST_MESSAGE)
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
    update_job(settings.db_url, job.id, model_path=str(model), model_sha256=sha256_file(model),
               epochs_done=total or done, epochs_total=total or job.epochs_total)
    log.info("trainer: job %s trained in %.0fs", job.id, time.monotonic() - started)
    return model


def _finish(url: Optional[str], job_id: str, **values: Any) -> None:
    """Record the outcome unless the job was meanwhile given up as interrupted."""
    with session_scope(url) as session:
        session.execute(update(TrainerJob).where(TrainerJob.id == job_id, TrainerJob.status.in_(RUNNING))
                        .values(finished_at=_now(), **values))


def run_job(settings: Settings, job_id: str, evaluate_after: bool = True,
            evaluator: Optional[Callable[[Settings, Path, Path], Dict[str, Any]]] = None) -> TrainerJob:
    """Train, evaluate and judge one job (in the caller's process, holding the job lease)."""
    url = settings.db_url
    job = get_job(job_id, url)
    if job.status not in RUNNING:
        return job
    if not leases.acquire(JOB_LEASE, job_id, RUN_TTL_SECONDS, url):
        mark_interrupted(url, job_id)
        return get_job(job_id, url)
    heartbeat = leases.Heartbeat(JOB_LEASE, job_id, RUN_TTL_SECONDS, HEARTBEAT_SECONDS, url).start()
    try:
        update_job(url, job_id, pid=os.getpid())
        model = train(settings, job, lost=heartbeat.lost)
        if evaluate_after:
            update_job(url, job_id, status="evaluating", phase="Bewertung auf dem Testsatz")
            evaluation = (evaluator or evaluate_candidate)(settings, model, active_model(settings))
            folds = get_trainer_settings().cross_validation_folds
            if folds:
                update_job(url, job_id, phase=f"Kreuzvalidierung ({folds} Teile)")
                evaluation["cross_validation"] = cross_validate(settings, job, folds)
            update_job(url, job_id, evaluation=evaluation, gate_passed=bool(evaluation["gate"]["passed"]))
        if heartbeat.lost.is_set():
            raise JobError(LEASE_LOST_MESSAGE)
        _finish(url, job_id, status="done", phase="Fertig")
    except JobError as err:
        _finish(url, job_id, status="failed", phase="Fehlgeschlagen", error=err.message[:1000])
    except Exception as err:  # noqa: BLE001 - recorded for the console, logged with traceback
        log.exception("trainer: job %s failed", job_id)
        _finish(url, job_id, status="failed", phase="Fehlgeschlagen",
                error=f"Unerwarteter Fehler: {type(err).__name__}"[:1000])
    finally:
        heartbeat.stop()
    return get_job(job_id, url)


def _watch(url: Optional[str], job_id: str, proc: "subprocess.Popen[bytes]") -> None:
    """Wait for a runner this process started; if it died without an outcome, record that now
    (other processes notice the same when the job lease expires)."""
    proc.wait()
    if mark_interrupted(url, job_id):
        leases.release(JOB_LEASE, job_id, url)
        log.warning("trainer: runner of job %s exited with code %s without an outcome", job_id, proc.returncode)


def start_job(settings: Settings, actor: str, epochs: Optional[int] = None,
              evaluate_after: bool = True) -> TrainerJob:
    """Record a job and run it in a process of its own (its output in the job folder's worker.log)."""
    job = create_job(settings, actor, epochs)
    cmd = [sys.executable, "-m", "servicecenter.trainer.runner", job.id]
    if not evaluate_after:
        cmd.append("--no-eval")
    try:
        proc = spawn("worker", cmd, child_env(settings), job_dir(settings, job.id), new_session=True)
    except OSError:
        mark_interrupted(settings.db_url, job.id, "Der Trainingslauf konnte nicht gestartet werden.")
        leases.release(JOB_LEASE, job.id, settings.db_url)
        raise
    update_job(settings.db_url, job.id, pid=proc.popen.pid)
    threading.Thread(target=_watch, args=(settings.db_url, job.id, proc.popen), name=f"trainer-{job.id}",
                     daemon=True).start()
    return get_job(job.id, settings.db_url)


def main(argv: Optional[List[str]] = None) -> int:
    """Runner entry point: ``python -m servicecenter.trainer.runner <job id> [--no-eval]``."""
    import argparse

    from servicecenter.settings import get_settings

    parser = argparse.ArgumentParser(prog="servicecenter.trainer.runner")
    parser.add_argument("job_id")
    parser.add_argument("--no-eval", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    job = run_job(get_settings(), args.job_id, evaluate_after=not args.no_eval)
    return 0 if job.status == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
