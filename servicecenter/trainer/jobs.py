"""Training job records: where a job's files live, one job at a time (a lease), status for the console.

A job holds the lease ``trainer-job`` (see ``servicecenter.leases``) from the moment it is
recorded until its runner has written the outcome: ``create_job`` takes it for
``START_TTL_SECONDS`` (the runner must take over within that time), the runner renews it
every ``HEARTBEAT_SECONDS``. A job still "running" whose lease has gone (its runner was
killed, the machine rebooted) is marked failed by ``reap_stale``. The lease lives in the
database, so this holds across console workers and machines.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from sqlalchemy import select, update

from servicecenter import PROJECT_ROOT, leases
from servicecenter.db import session_scope
from servicecenter.settings import Settings, TrainerSettings, get_trainer_settings
from servicecenter.trainer.errors import JobError
from servicecenter.trainer.models import TrainerJob

log = logging.getLogger(__name__)

RASA = Path(sys.executable).parent / "rasa"
ACTIVE_NAME = "geldern.tar.gz"
CANDIDATE_NAME = "candidate"
RUNNING = ("queued", "running", "evaluating")

JOB_LEASE = "trainer-job"
# A recorded job's runner must take the lease over within this time (else the job counts as failed).
START_TTL_SECONDS = 120.0
# The runner renews the lease every HEARTBEAT_SECONDS; RUN_TTL_SECONDS without one and it is gone.
RUN_TTL_SECONDS = 60.0
HEARTBEAT_SECONDS = 10.0
# How long a start waits for another console process that is recording its job right now.
START_WAIT = 10.0
BUSY_MESSAGE = "Es läuft bereits ein Training. Bitte warten Sie, bis es fertig ist."
STARTING_MESSAGE = ("Gerade wird an einem anderen Arbeitsplatz ein Training gestartet. "
                    "Bitte laden Sie die Seite gleich neu.")
INTERRUPTED_MESSAGE = "Der Trainingslauf wurde unterbrochen (Prozess beendet)."


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


# --------------------------------------------------------------------------- records


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def mark_interrupted(url: Optional[str], job_id: str, message: str = INTERRUPTED_MESSAGE) -> bool:
    """Record a job that is still "running" as failed (its runner is gone); True when it was."""
    with session_scope(url) as session:
        changed = session.execute(
            update(TrainerJob).where(TrainerJob.id == job_id, TrainerJob.status.in_(RUNNING))
            .values(status="failed", error=message, finished_at=_now())
        ).rowcount
    return changed == 1


def reap_stale(url: Optional[str] = None) -> None:
    """Jobs whose runner no longer holds the job lease (process gone) are marked failed."""
    with session_scope(url) as session:
        running = list(session.execute(select(TrainerJob.id).where(TrainerJob.status.in_(RUNNING))).scalars())
    if not running:
        return
    # Read after the jobs: a job is recorded only once its lease is taken, so a job just
    # created by another process is never taken for a stale one.
    lease = leases.current(JOB_LEASE, url)
    for job_id in running:
        if lease is not None and lease.holder == job_id:
            continue
        if mark_interrupted(url, job_id):
            log.warning("trainer: job %s lost its runner, marked failed", job_id)


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


def update_job(url: Optional[str], job_id: str, **values: Any) -> None:
    with session_scope(url) as session:
        session.execute(update(TrainerJob).where(TrainerJob.id == job_id).values(**values))


def _claim_lease(url: Optional[str], job_id: str, wait_seconds: float) -> None:
    """Take the job lease for a new job, or refuse: another job runs, or one is being recorded."""
    deadline = time.monotonic() + max(0.0, wait_seconds)
    while True:
        if leases.acquire(JOB_LEASE, job_id, START_TTL_SECONDS, url):
            return
        lease = leases.current(JOB_LEASE, url)
        if lease is not None:
            with session_scope(url) as session:
                holder = session.get(TrainerJob, lease.holder)
            if holder is not None and holder.status in RUNNING:
                raise JobError(BUSY_MESSAGE)
            # A finished job whose runner did not give the lease back: it is free.
            if holder is not None and leases.acquire(JOB_LEASE, job_id, START_TTL_SECONDS, url,
                                                     replace=lease.holder):
                return
            if time.monotonic() >= deadline:
                raise JobError(STARTING_MESSAGE)
        time.sleep(0.05)


def create_job(settings: Settings, actor: str, epochs: Optional[int] = None,
               lock_wait_seconds: Optional[float] = None) -> TrainerJob:
    """Record a new job; refused while another one runs (in this or any other console process)."""
    tsettings = get_trainer_settings()
    epochs = epochs if epochs is not None else tsettings.epochs
    job_id = secrets.token_hex(8)
    _claim_lease(settings.db_url, job_id, START_WAIT if lock_wait_seconds is None else lock_wait_seconds)
    try:
        folder = job_dir(settings, job_id)
        config = reduced_config(PROJECT_ROOT / "config.yml", folder / "config.yml", epochs)
        job = TrainerJob(
            id=job_id, status="queued", started_by=actor, config_name="config.yml" if epochs is None
            else f"config.yml ({epochs} Epochen)", epochs_done=0, epochs_total=configured_epochs(config),
            phase="Wartet", pid=None, log_path=str(folder / "train.log"),
        )
        with session_scope(settings.db_url) as session:
            session.add(job)
    except BaseException:
        leases.release(JOB_LEASE, job_id, settings.db_url)
        raise
    log.info("trainer: job %s created by %s", job_id, actor)
    return job


# --------------------------------------------------------------------------- console display


def elapsed(job: TrainerJob, now: Optional[dt.datetime] = None) -> str:
    if not job.started_at:
        return "–"
    end = job.finished_at or now or _now()
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
    t = tsettings or get_trainer_settings()
    return {"gate_margin": t.gate_margin, "epochs": t.epochs}
