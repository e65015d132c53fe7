"""The agents' ticket inbox: open tickets by waiting time, ticket detail, claim/forward/close.

Department users see only their department's tickets; any ticket a user may not see
answers 404, exactly like an id that does not exist. Every status change goes through
``tickets.transition``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any, Dict, List, Mapping, Optional

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select, update
from starlette.exceptions import HTTPException as StarletteHTTPException

from servicecenter.console import accounts
from servicecenter.console.auth import ConsoleError, SignedIn, check_csrf, render, require_roles
from servicecenter.db import session_scope
from servicecenter.handoff import tickets
from servicecenter.handoff.summary import CHANNEL_LABELS, CONTACT_LABELS, REASON_LABELS
from servicecenter.handoff.tickets import ConcurrentUpdate, IllegalTransition, Status, TicketNotFound
from servicecenter.models import Ticket

log = logging.getLogger(__name__)

INBOX_ROLES = ("agent", "department", "supervisor", "admin")
FORWARD_ROLES = ("agent",)
OPEN = (Status.NEW.value, Status.CLAIMED.value, Status.IN_CONVERSATION.value, Status.FORWARDED.value)
MAX_NOTE_LENGTH = 1000

STATUS_LABELS = {
    "new": "Neu",
    "claimed": "Übernommen",
    "in_conversation": "Im Gespräch",
    "forwarded": "Weitergeleitet",
    "answered": "Beantwortet",
    "closed": "Abgeschlossen",
}
RESOLUTION_LABELS = {
    "answered": "Anliegen beantwortet",
    "forwarded": "An die Fachabteilung weitergegeben",
    "callback_done": "Rückruf erledigt",
    "no_contact": "Niemand erreicht",
}
ILLEGAL_MESSAGE = (
    "Dieser Schritt ist für das Ticket im Status „{status}“ nicht möglich. "
    "Die Seite zeigt den aktuellen Stand."
)
CONCURRENT_MESSAGE = "Das Ticket wurde gerade von jemand anderem geändert. Bitte versuchen Sie es noch einmal."


InboxUser = Annotated[SignedIn, Depends(require_roles(*INBOX_ROLES))]


def waiting_text(since: dt.datetime, now: Optional[dt.datetime] = None) -> str:
    minutes = max(0, int(((now or dt.datetime.now(dt.timezone.utc)) - since).total_seconds() // 60))
    if minutes < 1:
        return "weniger als 1 Min."
    if minutes < 60:
        return f"{minutes} Min."
    hours, rest = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} Std. {rest} Min."
    days, hours = divmod(hours, 24)
    return f"{days} Tg. {hours} Std."


def summary_lines(ticket: Ticket) -> List[str]:
    """The stored summary as the short lines of ``Summary.to_text`` (tolerant of missing keys)."""
    s: Mapping[str, Any] = ticket.summary or {}
    service = s.get("service") or ticket.service_slug
    if service:
        label = "Zuvor besprochen" if (s.get("reason_code") or ticket.reason) == "complaint" else "Anliegen"
        lines = [f"{label}: {s.get('topic') or service} ({service})"]
    else:
        lines = ["Anliegen: nicht erkannt"]
    question = s.get("open_question")
    lines.append(f"Offene Frage: „{question}“" if question else "Offene Frage: keine eigene Frage gestellt")
    answered = s.get("answered") or []
    lines.append(f"Bereits beantwortet: {'; '.join(str(a) for a in answered) if answered else 'noch nichts'}")
    lines.append(f"Grund: {s.get('reason') or REASON_LABELS.get(ticket.reason, ticket.reason)}")
    department = s.get("department") or ticket.department_slug
    lines.append(f"Zuständig: {s.get('department_name') or department} ({department})")
    lines.append(f"Kanal: {s.get('channel') or CHANNEL_LABELS.get(ticket.channel, ticket.channel)}")
    contact = ticket.contact if ticket.consent else None
    if contact:
        parts = ", ".join(f"{CONTACT_LABELS.get(k, k)} {v}" for k, v in contact.items() if v not in (None, ""))
        lines.append(f"Kontakt (mit Einwilligung): {parts}")
    return lines


def _visible(ticket: Ticket, signed: SignedIn) -> bool:
    account = signed.account
    if account.role == "department":
        return ticket.department_slug == account.department_slug
    return account.role in INBOX_ROLES


def _db(request: Request) -> str:
    return request.app.state.settings.db_url


def _load(request: Request, ticket_id: str, signed: SignedIn) -> Ticket:
    """The ticket, or 404 when it does not exist or the user may not see it."""
    try:
        ticket = tickets.get_ticket(ticket_id, url=_db(request))
    except TicketNotFound:
        raise StarletteHTTPException(status_code=404) from None
    if not _visible(ticket, signed):
        raise StarletteHTTPException(status_code=404)
    return ticket


def _actions(ticket: Ticket, signed: SignedIn) -> Dict[str, bool]:
    allowed = tickets.allowed_targets(ticket.status)
    return {
        "claim": Status.CLAIMED in allowed,
        "forward": Status.FORWARDED in allowed and signed.account.role in FORWARD_ROLES,
        "close": Status.CLOSED in allowed,
    }


def _detail(request: Request, ticket: Ticket, signed: SignedIn, error: Optional[str] = None,
            status_code: int = 200) -> Response:
    events = tickets.ticket_events(ticket.id, url=_db(request))
    return render(
        request,
        "console/ticket.html",
        {
            "ticket": ticket,
            "lines": summary_lines(ticket),
            "waiting": waiting_text(ticket.created_at),
            "events": events,
            "status_labels": STATUS_LABELS,
            "resolution_labels": RESOLUTION_LABELS,
            "actions": _actions(ticket, signed),
            "departments": accounts.department_slugs(url=_db(request)),
            "error": error,
        },
        status_code=status_code,
        signed=signed,
    )


def _move(request: Request, ticket: Ticket, signed: SignedIn, to_status: str, note: Optional[str] = None,
          resolution: Optional[str] = None) -> Optional[Response]:
    """Apply the transition; a German error page (the ticket's detail) when it is not possible."""
    try:
        tickets.transition(ticket.id, to_status, signed.account.actor, note=note, resolution=resolution,
                           url=_db(request))
    except IllegalTransition as err:
        log.info("console: %s tried %s -> %s on ticket %s", signed.account.actor, err.from_status,
                 err.to_status, ticket.id)
        current = tickets.get_ticket(ticket.id, url=_db(request))
        message = ILLEGAL_MESSAGE.format(status=STATUS_LABELS.get(current.status, current.status))
        return _detail(request, current, signed, error=message, status_code=409)
    except ConcurrentUpdate:
        current = tickets.get_ticket(ticket.id, url=_db(request))
        return _detail(request, current, signed, error=CONCURRENT_MESSAGE, status_code=409)
    return None


def _back(ticket_id: str) -> Response:
    return RedirectResponse(f"/console/tickets/{ticket_id}", status_code=303, headers={"Cache-Control": "no-store"})


def _note(form: Mapping[str, Any]) -> Optional[str]:
    note = str(form.get("note") or "").strip()
    return note[:MAX_NOTE_LENGTH] or None


def _router() -> APIRouter:
    router = APIRouter(prefix="/console")

    @router.get("/inbox", response_class=HTMLResponse, name="console_inbox")
    async def inbox(request: Request, signed: InboxUser) -> Response:
        query = select(Ticket).where(Ticket.status.in_(OPEN)).order_by(Ticket.created_at, Ticket.id)
        if signed.account.role == "department":
            query = query.where(Ticket.department_slug == signed.account.department_slug)
        with session_scope(_db(request)) as session:
            rows = list(session.execute(query).scalars())
        now = dt.datetime.now(dt.timezone.utc)
        items = [
            {"ticket": t, "lines": summary_lines(t), "waiting": waiting_text(t.created_at, now)} for t in rows
        ]
        return render(
            request, "console/inbox.html", {"items": items, "status_labels": STATUS_LABELS}, signed=signed
        )

    @router.get("/tickets/{ticket_id}", response_class=HTMLResponse, name="console_ticket")
    async def ticket_detail(ticket_id: str, request: Request, signed: InboxUser) -> Response:
        return _detail(request, _load(request, ticket_id, signed), signed)

    @router.post("/tickets/{ticket_id}/claim", name="console_ticket_claim")
    async def claim(ticket_id: str, request: Request, signed: InboxUser) -> Response:
        await check_csrf(request, signed)
        ticket = _load(request, ticket_id, signed)
        return _move(request, ticket, signed, Status.CLAIMED.value) or _back(ticket_id)

    @router.post("/tickets/{ticket_id}/forward", name="console_ticket_forward")
    async def forward(ticket_id: str, request: Request, signed: InboxUser) -> Response:
        form = await check_csrf(request, signed)
        ticket = _load(request, ticket_id, signed)
        if signed.account.role not in FORWARD_ROLES:
            raise ConsoleError(403, "Weiterleiten dürfen nur Mitarbeitende des Servicecenters.", "Kein Zugriff")
        target = str(form.get("department") or "").strip()
        note = _note(form)
        if target not in accounts.department_slugs(url=_db(request)):
            return _detail(request, ticket, signed, error="Bitte wählen Sie eine Abteilung aus der Liste.",
                           status_code=400)
        if not note:
            return _detail(request, ticket, signed, error="Bitte schreiben Sie eine kurze Notiz für die Abteilung.",
                           status_code=400)
        failed = _move(request, ticket, signed, Status.FORWARDED.value, note=f"an {target}: {note}")
        if failed is not None:
            return failed
        # tickets.transition does not change the department, so the new owner is set right after,
        # only while the ticket is still the forwarded one we just wrote.
        with session_scope(_db(request)) as session:
            session.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id, Ticket.status == Status.FORWARDED.value)
                .values(department_slug=target)
                .execution_options(synchronize_session=False)
            )
        return _back(ticket_id)

    @router.post("/tickets/{ticket_id}/close", name="console_ticket_close")
    async def close(ticket_id: str, request: Request, signed: InboxUser) -> Response:
        form = await check_csrf(request, signed)
        ticket = _load(request, ticket_id, signed)
        resolution = str(form.get("resolution") or "")
        if resolution not in tickets.RESOLUTIONS:
            return _detail(request, ticket, signed, error="Bitte wählen Sie aus, wie das Anliegen erledigt wurde.",
                           status_code=400)
        return _move(request, ticket, signed, Status.CLOSED.value, note=_note(form), resolution=resolution) or _back(
            ticket_id
        )

    return router


def install(app: FastAPI) -> None:
    app.include_router(_router())
