"""The trainer workbench in the console: NLU inbox, conversation review, knowledge editor,
training runs with comparison, activation and rollback.

Only trainers, supervisors and admins reach these pages; only supervisors approve knowledge
changes and override the activation gate. Every POST checks the CSRF token. Texts shown
here are redacted (see ``servicecenter.trainer.redaction``).
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from servicecenter.console.auth import ConsoleError, FormDep, SignedIn, csrf_protect, render, require_roles
from servicecenter.dialogue import slug_for
from servicecenter.settings import Settings, get_trainer_settings
from servicecenter.trainer import activation, jobs, review, runner
from servicecenter.trainer import inbox as nlu_inbox
from servicecenter.trainer import intents as intent_admin
from servicecenter.trainer import knowledge_editor as editor
from servicecenter.trainer.models import CONVERSATION_TAGS

log = logging.getLogger(__name__)

TRAINER_ROLES = ("trainer", "supervisor", "admin")
APPROVER_ROLES = ("supervisor",)
NO_STORE = {"Cache-Control": "no-store"}
DECISION_LABELS = {"confirm": "bestätigt", "correct": "korrigiert", "discard": "verworfen"}
STATUS_LABELS = {"open": "offen", "confirmed": "bestätigt", "corrected": "korrigiert", "discarded": "verworfen"}
JOB_LABELS = {"queued": "wartet", "running": "Training läuft", "evaluating": "Bewertung läuft",
              "done": "fertig", "failed": "fehlgeschlagen"}
DRAFT_LABELS = {"draft": "Entwurf", "approved": "freigegeben", "rejected": "abgelehnt", "superseded": "überholt"}

trainer_user = require_roles(*TRAINER_ROLES)
TrainerUser = Annotated[SignedIn, Depends(trainer_user)]


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _db(request: Request) -> str:
    return _settings(request).db_url


def _back(url: str) -> Response:
    return RedirectResponse(url, status_code=303, headers=dict(NO_STORE))


def local_time(value: Optional[dt.datetime]) -> str:
    if value is None:
        return "–"
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo("Europe/Berlin")).strftime("%d.%m.%Y %H:%M")


@lru_cache(maxsize=4)
def _intents_cached(path: Path, mtime_ns: int) -> Tuple[str, ...]:
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    names = []
    for item in data.get("intents") or []:
        names.append(next(iter(item)) if isinstance(item, dict) else str(item))
    return tuple(names)


def known_intents() -> Tuple[str, ...]:
    """The intents of the model's domain (a relabel can only choose these)."""
    path = intent_admin.bot_files().intents_file
    return _intents_cached(path, path.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _services_cached(path: Path, mtime_ns: int) -> Tuple[str, ...]:
    from servicecenter.knowledge.loader import load_catalogue

    return tuple(sorted(load_catalogue(path).services))


def known_services(settings: Settings) -> Tuple[str, ...]:
    path = settings.catalogue_path
    return _services_cached(path, path.stat().st_mtime_ns)


def _common(signed: SignedIn) -> Dict[str, Any]:
    return {
        "local_time": local_time,
        "is_supervisor": signed.account.role in APPROVER_ROLES,
        "status_labels": STATUS_LABELS,
        "channel_labels": nlu_inbox.CHANNEL_LABELS,
    }


def _int(value: Any) -> Optional[int]:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- NLU inbox


def _inbox_page(request: Request, signed: SignedIn) -> Response:
    settings = _settings(request)
    try:
        nlu_inbox.sync(settings.db_url)
    except Exception:  # noqa: BLE001 - the inbox still shows what is stored
        log.exception("trainer inbox: reading the tracker store failed")
    filters, problems = nlu_inbox.Filters.from_query(request.query_params)
    page = max(1, _int(request.query_params.get("seite")) or 1)
    items, total = nlu_inbox.list_items(filters, page, url=settings.db_url)
    query = {k: v for k, v in request.query_params.items() if k != "seite" and v}
    pages = max(1, (total + nlu_inbox.PAGE_SIZE - 1) // nlu_inbox.PAGE_SIZE)
    return render(request, "console/trainer_inbox.html", {
        **_common(signed),
        "items": items, "total": total, "page": page, "pages": pages, "filters": filters,
        "problems": problems, "facets": nlu_inbox.facets(known_intents(), known_services(settings)),
        "prev_url": f"?{urlencode({**query, 'seite': page - 1})}" if page > 1 else None,
        "next_url": f"?{urlencode({**query, 'seite': page + 1})}" if page < pages else None,
        "events_present": nlu_inbox.events_table_present(settings.db_url),
        "low_confidence": nlu_inbox.low_confidence(),
    }, signed=signed)


def _message_page(request: Request, signed: SignedIn, message_id: int, error: Optional[str] = None,
                  notice: Optional[str] = None, status_code: int = 200,
                  form: Optional[Mapping[str, Any]] = None) -> Response:
    settings = _settings(request)
    message = nlu_inbox.get_message(message_id, settings.db_url)
    if message is None:
        raise StarletteHTTPException(status_code=404)
    return render(request, "console/trainer_message.html", {
        **_common(signed),
        "message": message,
        "members": nlu_inbox.group_members(message, settings.db_url),
        "decisions": nlu_inbox.decisions_for(message.id, settings.db_url),
        "intents": known_intents(),
        "services": known_services(settings),
        "decision_labels": DECISION_LABELS,
        "error": error, "notice": notice,
        "form": form or {},
        "marked": _marked(message.text, message.service_start, message.service_end),
    }, status_code=status_code, signed=signed)


def _marked(text: str, start: Optional[int], end: Optional[int]) -> Tuple[str, str, str]:
    if start is None or end is None or not (0 <= start < end <= len(text)):
        return text, "", ""
    return text[:start], text[start:end], text[end:]


def _span_from(text: str, words: str) -> Optional[Tuple[int, int]]:
    words = words.strip()
    if not words:
        return None
    position = text.find(words)
    if position < 0:
        raise nlu_inbox.DecisionError("Die markierten Wörter stehen so nicht im Text. Bitte neu markieren.")
    return position, position + len(words)


# --------------------------------------------------------------------------- router


# Plain functions: FastAPI runs them in its thread pool, so database work, redaction (spaCy),
# file writes and waiting for Rasa to load a model never block the event loop.
router = APIRouter(prefix="/console/trainer", dependencies=[Depends(trainer_user), Depends(csrf_protect)])


@router.get("", response_class=HTMLResponse, name="trainer_inbox")
def inbox_page(request: Request, signed: TrainerUser) -> Response:
    return _inbox_page(request, signed)


@router.get("/messages/{message_id}", response_class=HTMLResponse, name="trainer_message")
def message_page(message_id: int, request: Request, signed: TrainerUser) -> Response:
    return _message_page(request, signed, message_id)


@router.post("/messages/{message_id}/decide", name="trainer_decide")
def decide(message_id: int, request: Request, signed: TrainerUser, form: FormDep) -> Response:
    settings = _settings(request)
    message = nlu_inbox.get_message(message_id, settings.db_url)
    if message is None:
        raise StarletteHTTPException(status_code=404)
    decision = str(form.get("decision") or "")
    intent = str(form.get("intent") or "").strip() or None
    service = str(form.get("service") or "").strip() or None
    try:
        span = _span_from(message.text, str(form.get("service_words") or "")) if decision == "correct" else None
        if decision == "correct" and not service:
            service = slug_for(intent)
        result = nlu_inbox.decide(
            message_id, decision, signed.account.username, intent=intent, service=service, span=span,
            known_intents=known_intents(), known_services=known_services(settings), url=settings.db_url,
        )
    except nlu_inbox.DecisionError as err:
        return _message_page(request, signed, message_id, error=err.message, status_code=err.status_code,
                             form=form)
    if decision == "discard":
        notice = "verworfen"
    else:
        notice = "gespeichert" if result.written else "vorhanden"
    return _back(f"/console/trainer/messages/{message_id}?erledigt={notice}")


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse, name="trainer_conversation")
def conversation_page(conversation_id: str, request: Request, signed: TrainerUser) -> Response:
    return _conversation_page(request, signed, conversation_id)


@router.post("/conversations/{conversation_id}/tags", name="trainer_conversation_tag")
def tag_conversation(conversation_id: str, request: Request, signed: TrainerUser, form: FormDep) -> Response:
    settings = _settings(request)
    tag = str(form.get("tag") or "")
    action = str(form.get("action") or "add")
    try:
        if action == "remove":
            review.remove_tag(conversation_id, tag, url=settings.db_url)
        else:
            review.add_tag(conversation_id, tag, signed.account.username, str(form.get("note") or ""),
                           url=settings.db_url)
    except review.ReviewError as err:
        return _conversation_page(request, signed, conversation_id, error=err.message,
                                  status_code=err.status_code)
    return _back(f"/console/trainer/conversations/{conversation_id}")


# ------------------------------------------------------------------ intents


@router.get("/intents", response_class=HTMLResponse, name="trainer_intents")
def intents_page(request: Request, signed: TrainerUser) -> Response:
    notice = {"angelegt": "Das Anliegen wurde angelegt.", "umbenannt": "Das Anliegen wurde umbenannt."}.get(
        str(request.query_params.get("erledigt") or ""))
    return _intents_page(request, signed, notice=notice)


@router.post("/intents", name="trainer_intent_add")
def intent_add(request: Request, signed: TrainerUser, form: FormDep) -> Response:
    values = {k: str(form.get(k) or "") for k in ("name", "examples", "reaction")}
    try:
        result = intent_admin.add_intent(values["name"].strip(), values["examples"], signed.account.username,
                                         values["reaction"], url=_db(request))
    except intent_admin.IntentError as err:
        return _intents_page(request, signed, error=err.message, status_code=err.status_code, form=values)
    query = {"erledigt": "angelegt"}
    if result.redacted:
        query["entfernt"] = str(result.redacted)
    return _back(f"/console/trainer/intents?{urlencode(query)}")


@router.post("/intents/rename", name="trainer_intent_rename")
def intent_rename(request: Request, signed: TrainerUser, form: FormDep) -> Response:
    values = {k: str(form.get(k) or "") for k in ("old", "new")}
    try:
        intent_admin.rename_intent(values["old"], values["new"].strip(), signed.account.username, url=_db(request))
    except intent_admin.IntentError as err:
        return _intents_page(request, signed, error=err.message, status_code=err.status_code, form=values)
    return _back("/console/trainer/intents?erledigt=umbenannt")


# ------------------------------------------------------------------ knowledge editor


@router.get("/knowledge", response_class=HTMLResponse, name="trainer_knowledge")
def knowledge_page(request: Request, signed: TrainerUser) -> Response:
    settings = _settings(request)
    return render(request, "console/trainer_knowledge.html", {
        **_common(signed),
        "services": editor.list_services(settings),
        "drafts": editor.history(settings, status="draft"),
        "recent": editor.history(settings, limit=15),
        "draft_labels": DRAFT_LABELS,
    }, signed=signed)


@router.get("/knowledge/{slug}", response_class=HTMLResponse, name="trainer_knowledge_edit")
def knowledge_edit(slug: str, request: Request, signed: TrainerUser) -> Response:
    return _edit_page(request, signed, slug)


@router.post("/knowledge/{slug}", name="trainer_knowledge_save")
def knowledge_save(slug: str, request: Request, signed: TrainerUser, form: FormDep) -> Response:
    settings = _settings(request)
    fields = {k: str(v) for k, v in form.items() if k in _editable_keys()}
    try:
        draft = editor.propose(settings, slug, fields, signed.account.username, str(form.get("note") or ""))
    except editor.EditorError as err:
        if err.status_code == 404:
            raise StarletteHTTPException(status_code=404) from None
        return _edit_page(request, signed, slug, error=err.message, problems=err.problems,
                          values=fields, status_code=err.status_code)
    return _back(f"/console/trainer/knowledge/drafts/{draft.id}")


@router.get("/knowledge/drafts/{draft_id}", response_class=HTMLResponse, name="trainer_draft")
def draft_page(draft_id: int, request: Request, signed: TrainerUser) -> Response:
    return _draft_page(request, signed, draft_id)


@router.post("/knowledge/drafts/{draft_id}/approve", name="trainer_draft_approve")
def draft_approve(draft_id: int, request: Request, signed: TrainerUser) -> Response:
    _supervisor_only(signed, "Änderungen am Wissen gibt nur die Teamleitung frei.")
    settings = _settings(request)
    try:
        editor.approve(settings, draft_id, signed.account.username, signed.account.username)
    except editor.EditorError as err:
        if err.status_code == 404:
            raise StarletteHTTPException(status_code=404) from None
        return _draft_page(request, signed, draft_id, error=err.message, problems=err.problems,
                           status_code=err.status_code)
    return _back(f"/console/trainer/knowledge/drafts/{draft_id}")


@router.post("/knowledge/drafts/{draft_id}/reject", name="trainer_draft_reject")
def draft_reject(draft_id: int, request: Request, signed: TrainerUser) -> Response:
    _supervisor_only(signed, "Entwürfe lehnt nur die Teamleitung ab.")
    try:
        editor.reject(_settings(request), draft_id, signed.account.username)
    except editor.EditorError as err:
        if err.status_code == 404:
            raise StarletteHTTPException(status_code=404) from None
        return _draft_page(request, signed, draft_id, error=err.message, status_code=err.status_code)
    return _back(f"/console/trainer/knowledge/drafts/{draft_id}")


# ------------------------------------------------------------------ models


@router.get("/models", response_class=HTMLResponse, name="trainer_models")
def models_page(request: Request, signed: TrainerUser) -> Response:
    return _models_page(request, signed)


@router.post("/models/train", name="trainer_train")
def train(request: Request, signed: TrainerUser) -> Response:
    settings = _settings(request)
    try:
        job = runner.start_job(settings, signed.account.username)
    except jobs.JobError as err:
        return _models_page(request, signed, error=err.message, status_code=err.status_code)
    return _back(f"/console/trainer/models/jobs/{job.id}")


@router.get("/models/jobs/{job_id}", response_class=HTMLResponse, name="trainer_job")
def job_page(job_id: str, request: Request, signed: TrainerUser) -> Response:
    return _job_page(request, signed, job_id)


@router.get("/models/jobs/{job_id}/status", name="trainer_job_status")
def job_status(job_id: str, request: Request, signed: TrainerUser) -> Response:
    job = _job(request, job_id)
    return JSONResponse(jobs.status_payload(job), headers=dict(NO_STORE))


@router.get("/models/jobs/{job_id}/log", name="trainer_job_log")
def job_log(job_id: str, request: Request, signed: TrainerUser) -> Response:
    job = _job(request, job_id)
    path = Path(job.log_path or "")
    text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    # The last part of Rasa's training log (it holds no conversation data).
    tail = "\n".join(text.replace("\r", "\n").splitlines()[-400:])
    return PlainTextResponse(tail or "(noch kein Protokoll)", headers=dict(NO_STORE))


@router.post("/models/jobs/{job_id}/activate", name="trainer_activate")
def activate(job_id: str, request: Request, signed: TrainerUser, form: FormDep) -> Response:
    settings = _settings(request)
    _job(request, job_id)
    try:
        # Rasa loads the model while this waits (in the thread pool, the console stays responsive).
        activation.activate(settings, job_id, signed.account.username, signed.account.role,
                            override_reason=str(form.get("reason") or ""))
    except jobs.JobError as err:
        return _job_page(request, signed, job_id, error=err.message, status_code=err.status_code)
    return _back("/console/trainer/models?aktiviert=1")


@router.post("/models/rollback", name="trainer_rollback")
def rollback(request: Request, signed: TrainerUser) -> Response:
    try:
        activation.rollback(_settings(request), signed.account.username)
    except jobs.JobError as err:
        return _models_page(request, signed, error=err.message, status_code=err.status_code)
    return _back("/console/trainer/models?zurueck=1")


def _intents_page(request: Request, signed: SignedIn, error: Optional[str] = None, notice: Optional[str] = None,
                  status_code: int = 200, form: Optional[Mapping[str, str]] = None) -> Response:
    files = intent_admin.bot_files()
    rows = intent_admin.overview(files)
    removed = _int(request.query_params.get("entfernt"))
    if notice and removed:
        notice += (f" In {removed} Beispiel{'en' if removed > 1 else ''} wurden persönliche Daten durch "
                   "Platzhalter ersetzt.")
    return render(request, "console/trainer_intents.html", {
        **_common(signed),
        "rows": rows, "renamable": [r for r in rows if r.renamable],
        "reactions": intent_admin.REACTIONS, "min_examples": intent_admin.MIN_EXAMPLES,
        "changes": intent_admin.history(_db(request)),
        "error": error, "notice": notice, "form": form or {},
    }, status_code=status_code, signed=signed)


def _supervisor_only(signed: SignedIn, message: str) -> None:
    if signed.account.role not in APPROVER_ROLES:
        raise ConsoleError(403, message, "Kein Zugriff")


def _editable_keys() -> List[str]:
    keys = list(editor.TEXT_FIELDS) + list(editor.LIST_FIELDS)
    keys += [f"provenance_{k}" for k in editor.PROVENANCE_TEXT] + [f"provenance_{k}" for k in editor.PROVENANCE_LIST]
    return keys


def _edit_page(request: Request, signed: SignedIn, slug: str, error: Optional[str] = None,
               problems: Optional[List[str]] = None, values: Optional[Mapping[str, str]] = None,
               status_code: int = 200) -> Response:
    settings = _settings(request)
    try:
        current = editor.current_values(settings, slug)
    except editor.EditorError:
        raise StarletteHTTPException(status_code=404) from None
    shown = dict(current)
    shown.update(values or {})
    return render(request, "console/trainer_knowledge_edit.html", {
        **_common(signed),
        "slug": slug, "values": shown, "current": current,
        "text_fields": editor.TEXT_FIELDS, "list_fields": editor.LIST_FIELDS,
        "provenance_text": editor.PROVENANCE_TEXT, "provenance_list": editor.PROVENANCE_LIST,
        "history": editor.history(settings, slug=slug), "draft_labels": DRAFT_LABELS,
        "error": error, "problems": problems or [],
    }, status_code=status_code, signed=signed)


def _draft_page(request: Request, signed: SignedIn, draft_id: int, error: Optional[str] = None,
                problems: Optional[List[str]] = None, status_code: int = 200) -> Response:
    settings = _settings(request)
    try:
        draft = editor.get_draft(settings, draft_id)
    except editor.EditorError:
        raise StarletteHTTPException(status_code=404) from None
    lines = []
    for line in draft.diff.splitlines():
        kind = "add" if line.startswith("+") and not line.startswith("+++") else (
            "del" if line.startswith("-") and not line.startswith("---") else "ctx")
        lines.append((kind, line))
    return render(request, "console/trainer_draft.html", {
        **_common(signed),
        "draft": draft, "diff_lines": lines, "draft_labels": DRAFT_LABELS,
        "error": error, "problems": problems or [],
    }, status_code=status_code, signed=signed)


def _job(request: Request, job_id: str) -> Any:
    try:
        return jobs.get_job(job_id, _db(request))
    except jobs.JobError:
        raise StarletteHTTPException(status_code=404) from None


def _models_page(request: Request, signed: SignedIn, error: Optional[str] = None, status_code: int = 200) -> Response:
    settings = _settings(request)
    active = jobs.active_model(settings)
    last = activation.last_activation(settings.db_url)
    return render(request, "console/trainer_models.html", {
        **_common(signed),
        "jobs": jobs.list_jobs(settings.db_url),
        "running": jobs.running_job(settings.db_url),
        "active_present": active.exists(),
        "active_time": dt.datetime.fromtimestamp(active.stat().st_mtime, dt.timezone.utc) if active.exists() else None,
        "activations": activation.activations(settings.db_url),
        "can_rollback": bool(last and last.previous_path),
        "job_labels": JOB_LABELS,
        "gate_margin": get_trainer_settings().gate_margin,
        "activated": request.query_params.get("aktiviert") == "1",
        "rolled_back": request.query_params.get("zurueck") == "1",
        "error": error,
    }, status_code=status_code, signed=signed)


def _job_page(request: Request, signed: SignedIn, job_id: str, error: Optional[str] = None,
              status_code: int = 200) -> Response:
    job = _job(request, job_id)
    evaluation = job.evaluation or {}
    per_intent = sorted(evaluation.get("per_intent") or [], key=lambda r: (r["delta"], r["intent"]))
    return render(request, "console/trainer_job.html", {
        **_common(signed),
        "job": job, "job_labels": JOB_LABELS, "elapsed": jobs.elapsed(job),
        "evaluation": evaluation, "per_intent": per_intent,
        "changed_intents": [r for r in per_intent if r["delta"] != 0],
        "error": error,
    }, status_code=status_code, signed=signed)


def _conversation_page(request: Request, signed: SignedIn, conversation_id: str, error: Optional[str] = None,
                       status_code: int = 200) -> Response:
    settings = _settings(request)
    try:
        nlu_inbox.sync(settings.db_url)
    except Exception:  # noqa: BLE001
        log.exception("trainer review: reading the tracker store failed")
    turns = review.conversation(conversation_id, url=settings.db_url)
    if not turns:
        raise StarletteHTTPException(status_code=404)
    return render(request, "console/trainer_conversation.html", {
        **_common(signed),
        "conversation_id": conversation_id, "turns": turns,
        "tags": review.tags(conversation_id, url=settings.db_url), "tag_labels": CONVERSATION_TAGS,
        "error": error,
    }, status_code=status_code, signed=signed)


__all__ = ["TRAINER_ROLES", "known_intents", "known_services", "router"]
