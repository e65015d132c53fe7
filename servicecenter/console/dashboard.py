"""Quality dashboard for supervisors (figures vs. the handbook's targets, charts, drill-down to
the conversations behind a figure) and the monthly report button.

Supervisors and admins see the figures and the conversation lists (ids, times, channel,
service, outcome: no message text). Only supervisors may open a conversation's messages.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from pathlib import Path
from typing import Annotated, Any, Dict, List, Tuple

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from servicecenter.console.auth import ConsoleError, FormDep, SignedIn, csrf_protect, render, require_roles
from servicecenter.console.deps import DbSession
from servicecenter.input_guard import valid_session_id
from servicecenter.knowledge.loader import KnowledgeError
from servicecenter.rasa_tables import RASA_EVENTS, has_events_table
from servicecenter.reports import charts
from servicecenter.reports.config import QualityHandbook
from servicecenter.reports.drilldown import TICKET_FIGURES, drill_down, drill_filter
from servicecenter.reports.figures import compute_figures
from servicecenter.reports.period import Period
from servicecenter.reports.quality import CHANNEL_LABELS, Labels, de_share, quality_rows, volume_rows
from servicecenter.reports.report import CSV_FILES
from servicecenter.town import town_config

log = logging.getLogger(__name__)

DASHBOARD_ROLES = ("supervisor", "admin")
TEXT_ROLES = ("supervisor",)
MAX_DAYS = 366
CACHE_SECONDS = 60.0
OUTCOME_LABELS = {"answer": "beantwortet", "repeat": "beantwortet, Wiederkontakt", "handoff": "übergeben",
                  "unanswered": "nicht beantwortet", "other": "sonstiges"}
FIGURE_LABELS = {
    "contacts": "Alle Kontakte", "resolved": "Abschließend beim Erstkontakt beantwortet",
    "not_resolved": "Nicht beim Erstkontakt gelöst", "repeated": "Wiederkontakte zum selben Anliegen",
    "handoff": "An Menschen übergeben", "fallback": "Mit nicht verstandenen Nachrichten", "voice": "Telefonate",
    "unanswered_any": "Mit unbeantworteten Fragen", "takeover": "Übergaben an das ServiceCenter",
    "takeover_late": "Übergaben, die nicht rechtzeitig übernommen wurden",
    "reply": "Weiterleitungen und Rückrufe", "reply_late": "Weiterleitungen und Rückrufe nach der Frist",
}
BAD_PERIOD = "Bitte geben Sie einen gültigen Zeitraum an (Datum von und bis, höchstens ein Jahr)."

dashboard_user = require_roles(*DASHBOARD_ROLES)
DashboardUser = Annotated[SignedIn, Depends(dashboard_user)]


def _reports_dir(request: Request) -> Path:
    return getattr(request.app.state, "reports_dir", None) or Path(__file__).resolve().parents[2] / "reports" / "monthly"


def _handbook(request: Request) -> QualityHandbook:
    settings = request.app.state.settings
    try:
        return town_config(settings.knowledge_dir).quality
    except KnowledgeError as err:
        log.error("quality handbook invalid: %s", err)
        raise ConsoleError(500, "Das Qualitätshandbuch (quality.yml) ist fehlerhaft. Bitte die Administration "
                                "informieren.", "Konfiguration fehlerhaft") from None


def _period(request: Request, handbook: QualityHandbook) -> Tuple[Period, dt.date, dt.date]:
    tz = handbook.routing.calendar.tz
    today = dt.datetime.now(tz).date()
    raw_from, raw_to = request.query_params.get("von"), request.query_params.get("bis")
    try:
        first = dt.date.fromisoformat(raw_from) if raw_from else today.replace(day=1)
        last = dt.date.fromisoformat(raw_to) if raw_to else today
    except ValueError:
        raise ConsoleError(400, BAD_PERIOD, "Zeitraum ungültig") from None
    if last < first or (last - first).days >= MAX_DAYS:
        raise ConsoleError(400, BAD_PERIOD, "Zeitraum ungültig")
    return Period.days(first, last, handbook.routing.timezone), first, last


class _FiguresCache:
    """Figures for a period are reused for a minute: one page load draws several charts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: Dict[Tuple[str, str, str], Tuple[float, Dict[str, Any]]] = {}

    def get(self, url: str, period: Period, handbook: QualityHandbook) -> Dict[str, Any]:
        key = (url, period.start.isoformat(), period.end.isoformat())
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
                return hit[1]
        figures = compute_figures(period, handbook.repeat_contact_days, handbook.routing.calendar,
                                  handbook.reply_within_service_hours, handbook.targets.takeover_within_seconds, url=url)
        with self._lock:
            if len(self._items) > 32:
                self._items.clear()
            self._items[key] = (time.monotonic(), figures)
        return figures


_cache = _FiguresCache()


def _figures(request: Request, period: Period, handbook: QualityHandbook) -> Dict[str, Any]:
    url = request.app.state.settings.db_url
    try:
        return _cache.get(url, period, handbook)
    except (OperationalError, ProgrammingError):
        log.exception("dashboard: database not ready")
        raise ConsoleError(503, "Die Kennzahlen sind gerade nicht verfügbar. Bitte versuchen Sie es später noch "
                                "einmal.", "Nicht verfügbar") from None


def figure_label(figure: str, labels: Labels) -> str:
    kind, _, arg = figure.partition(":")
    if not arg:
        return FIGURE_LABELS.get(kind, figure)
    named = {"handoff_reason": ("Übergabegrund", labels.reason), "handoff_department": ("Übergeben an", labels.department),
             "service": ("Anliegen", labels.service), "unanswered": ("Unbeantwortet", labels.unanswered),
             "channel": ("Kanal", lambda c: CHANNEL_LABELS.get(c, c))}
    title, name = named.get(kind, (kind, str))
    return f"{title}: {name(arg)}"


def _query(first: dt.date, last: dt.date) -> str:
    return f"von={first.isoformat()}&bis={last.isoformat()}"


def _months(today: dt.date, count: int = 12) -> List[str]:
    months, year, month = [], today.year, today.month
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months


# Plain functions: FastAPI runs them in its thread pool (figures, charts and reports are
# database and CPU work that must not block the event loop).
router = APIRouter(prefix="/console", dependencies=[Depends(dashboard_user), Depends(csrf_protect)])


@router.get("/dashboard", response_class=HTMLResponse, name="console_dashboard")
def dashboard(request: Request, signed: DashboardUser) -> Response:
    handbook = _handbook(request)
    period, first, last = _period(request, handbook)
    figures = _figures(request, period, handbook)
    labels = Labels(handbook.kb)
    rows = quality_rows(figures, handbook)
    for row in rows:
        row["value_text"] = de_share(row["value"])
        row["target_text"] = "–" if row["info"] else (
            "noch zu vereinbaren" if row["target"] is None else de_share(row["target"]))
    today = dt.datetime.now(handbook.routing.calendar.tz).date()
    report_months = _months(today)
    reports_dir = _reports_dir(request)
    ready = [m for m in report_months if (reports_dir / m / f"qualitaetsbericht-{m}.pdf").is_file()]
    return render(request, "console/dashboard.html", {
        "period": period, "first": first, "last": last, "query": _query(first, last),
        "rows": rows, "volumes": volume_rows(figures), "figures": figures, "labels": labels,
        "charts": charts.CHARTS, "chart_titles": CHART_TITLES,
        "report_months": report_months, "ready_reports": ready, "csv_files": CSV_FILES,
        "reason_items": [(k, labels.reason(k), n) for k, n in figures["handoff"]["by_reason"].items()],
        "department_items": [(k, labels.department(k), n) for k, n in figures["handoff"]["by_department"].items()],
        "service_items": [(k, labels.service(k), n) for k, n in figures["top_services"]],
        "unanswered_items": [(k, labels.unanswered(k), n) for k, n in figures["top_unanswered"]],
        "message": request.query_params.get("bericht"),
    }, signed=signed)


@router.get("/dashboard/charts/{name}.png", name="console_dashboard_chart")
def chart(name: str, request: Request, signed: DashboardUser) -> Response:
    if name not in charts.CHARTS:
        raise StarletteHTTPException(status_code=404)
    handbook = _handbook(request)
    period, _, _ = _period(request, handbook)
    figures = _figures(request, period, handbook)
    rows = quality_rows(figures, handbook)
    png = charts.render(charts.chart(name, figures, rows, Labels(handbook.kb)), "png")
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get("/dashboard/kontakte", response_class=HTMLResponse, name="console_dashboard_contacts")
def contacts(request: Request, signed: DashboardUser) -> Response:
    handbook = _handbook(request)
    period, first, last = _period(request, handbook)
    figure = request.query_params.get("kennzahl", "contacts")
    if figure not in TICKET_FIGURES:
        try:
            drill_filter(figure)
        except ValueError:
            raise ConsoleError(400, "Diese Kennzahl gibt es nicht.", "Unbekannte Kennzahl") from None
    found, total = drill_down(period, handbook.repeat_contact_days, figure, request.app.state.settings.db_url,
                              calendar=handbook.routing.calendar,
                              reply_hours=handbook.reply_within_service_hours,
                              takeover_seconds=handbook.targets.takeover_within_seconds)
    labels = Labels(handbook.kb)
    tz = handbook.routing.calendar.tz
    items = [{
        "id": c.conversation_id,
        "time": dt.datetime.fromtimestamp(c.start, tz).strftime("%d.%m.%Y %H:%M"),
        "channel": CHANNEL_LABELS.get(c.channel, c.channel),
        "service": labels.service(c.service),
        "outcome": OUTCOME_LABELS.get(c.outcome, c.outcome),
    } for c in found]
    return render(request, "console/dashboard_contacts.html", {
        "items": items, "total": total, "figure": figure, "period": period, "query": _query(first, last),
        "figure_label": figure_label(figure, labels),
        "may_read": signed.account.role in TEXT_ROLES,
    }, signed=signed)


@router.get("/dashboard/gespraeche/{conversation_id}", response_class=HTMLResponse,
            name="console_dashboard_conversation")
def conversation(conversation_id: str, request: Request, signed: DashboardUser, session: DbSession) -> Response:
    if signed.account.role not in TEXT_ROLES:
        raise ConsoleError(403, "Gesprächsinhalte dürfen nur Teamleitungen einsehen.", "Kein Zugriff")
    if not valid_session_id(conversation_id):
        raise StarletteHTTPException(status_code=404)
    handbook = _handbook(request)
    lines = _transcript(session, conversation_id, handbook.routing.calendar.tz)
    if not lines:
        raise StarletteHTTPException(status_code=404)
    log.info("dashboard: %s opened conversation %s", signed.account.username, conversation_id)
    return render(request, "console/dashboard_conversation.html",
                  {"conversation_id": conversation_id, "lines": lines}, signed=signed)


@router.post("/dashboard/bericht", name="console_dashboard_report")
def make_report(request: Request, signed: DashboardUser, form: FormDep) -> Response:
    handbook = _handbook(request)
    month = str(form.get("monat") or "")
    today = dt.datetime.now(handbook.routing.calendar.tz).date()
    if month not in _months(today):
        raise ConsoleError(400, "Bitte wählen Sie einen Monat aus der Liste.", "Monat ungültig")
    from servicecenter.reports.report import write_report

    write_report(month, handbook, _reports_dir(request), request.app.state.settings.db_url)
    log.info("dashboard: %s created the report for %s", signed.account.username, month)
    return RedirectResponse(f"/console/dashboard?bericht={month}#berichte", status_code=303,
                            headers={"Cache-Control": "no-store"})


@router.get("/berichte/{month}/{name}", name="console_report_file")
def report_file(month: str, name: str, request: Request, signed: DashboardUser) -> Response:
    allowed = {f"qualitaetsbericht-{month}.pdf", *CSV_FILES}
    handbook = _handbook(request)
    today = dt.datetime.now(handbook.routing.calendar.tz).date()
    if month not in _months(today, 120) or name not in allowed:
        raise StarletteHTTPException(status_code=404)
    path = _reports_dir(request) / month / name
    if not path.is_file():
        raise StarletteHTTPException(status_code=404)
    media = "application/pdf" if name.endswith(".pdf") else "text/csv; charset=utf-8"
    return FileResponse(path, media_type=media, filename=name, headers={"Cache-Control": "no-store"})


CHART_TITLES = {
    "targets": "Qualitätsziele: gemessen und Ziel",
    "contacts_by_day": "Kontakte je Tag (Chat und Telefon)",
    "contacts_by_hour": "Kontakte nach Uhrzeit",
    "handoff_reasons": "Übergaben nach Grund",
    "top_services": "Häufigste Anliegen",
    "top_unanswered": "Häufigste unbeantwortete Fragen (nach Thema)",
}


def _transcript(session: Session, conversation_id: str, tz: Any) -> List[Dict[str, str]]:
    """The messages of a conversation (citizen and assistant) for a supervisor."""
    e = RASA_EVENTS.c
    conn = session.connection()
    if not has_events_table(conn):
        return []
    rows = conn.execute(
        select(e.type_name, e.timestamp, e.data).where(e.sender_id == conversation_id,
                                                       e.type_name.in_(("user", "bot", "session_started")))
        .order_by(e.id)
    ).all()
    lines = []
    for type_name, timestamp, data in rows:
        when = dt.datetime.fromtimestamp(float(timestamp or 0), tz).strftime("%d.%m.%Y %H:%M:%S")
        if type_name == "session_started":
            lines.append({"who": "Neuer Kontakt", "time": when, "text": ""})
            continue
        try:
            body = json.loads(data or "{}")
        except ValueError:
            body = {}
        text = body.get("text") or ""
        if not text:
            continue
        lines.append({"who": "Bürgerin/Bürger" if type_name == "user" else "Assistent", "time": when, "text": text})
    return lines
