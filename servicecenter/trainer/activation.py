"""Activation and rollback: swap the model the running Rasa server uses, keep the one replaced.

``activate`` loads a finished job's candidate into the running Rasa server through its
authenticated ``PUT /model`` (conversations live in the tracker store and carry on) and
installs it as ``models/rasa/geldern.tar.gz``; the replaced model is kept for ``rollback``.
Only archives whose SHA-256 matches a finished job (or a recorded previous model) are loaded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import shutil
from pathlib import Path
from typing import Callable, List, Optional

from sqlalchemy import select

from servicecenter.db import session_scope
from servicecenter.files import atomic_copy
from servicecenter.settings import Settings
from servicecenter.trainer.errors import JobError
from servicecenter.trainer.jobs import active_model, get_job, sha256_file, trainer_dir, update_job
from servicecenter.trainer.models import TrainerActivation

log = logging.getLogger(__name__)


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
        update_job(settings.db_url, job_id, override_by=actor, override_reason=reason[:500])
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

