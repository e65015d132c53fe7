"""The agents' ticket inbox: open tickets by waiting time, ticket detail, claim/forward/close.

Department users see only their department's tickets; any ticket a user may not see
answers 404, exactly like an id that does not exist. Every status change goes through
``tickets.transition``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Annotated, Any, Awaitable, Callable, Dict, List, Mapping, Optional

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from servicecenter import accounts
from servicecenter.console.auth import (
    ConsoleError,
    FormDep,
    SignedIn,
    csrf_protect,
    render,
    require_roles,
)
from servicecenter.console.deps import DbSession, current_knowledge
from servicecenter.handoff import live, notifications, tickets
from servicecenter.handoff.summary import ticket_lines
from servicecenter.handoff.tickets import ConcurrentUpdate, IllegalTransition, Status, TicketNotFound
from servicecenter.models import Ticket, TicketEvent
from servicecenter.town import town_config

log = logging.getLogger(__name__)

INBOX_ROLES = ("agent", "department", "supervisor", "admin")
FORWARD_ROLES = ("agent",)
# Who may take over a live chat: the ServiceCenter's agents (and their team leads).
LIVE_ROLES = ("agent", "supervisor", "admin")
MODE_LABELS = {"live": "Live-Chat", "ticket": "Vorgang"}
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
RASA_DOWN_MESSAGE = (
    "Der Chat der Bürgerin oder des Bürgers ist gerade nicht erreichbar. Das Ticket ist unverändert; "
    "bitte versuchen Sie es gleich noch einmal oder bieten Sie einen Rückruf an."
)


inbox_user = require_roles(*INBOX_ROLES)
InboxUser = Annotated[SignedIn, Depends(inbox_user)]


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


def _visible(ticket: Ticket, signed: SignedIn) -> bool:
    account = signed.account
    if account.role == "department":
        return ticket.department_slug == account.department_slug
    return account.role in INBOX_ROLES


def _load(session: Session, ticket_id: str, signed: SignedIn) -> Ticket:
    """The ticket, or 404 when it does not exist or the user may not see it."""
    try:
        ticket = tickets.get_ticket(ticket_id, session=session)
    except TicketNotFound:
        raise StarletteHTTPException(status_code=404) from None
    if not _visible(ticket, signed):
        raise StarletteHTTPException(status_code=404)
    return ticket


def _actions(ticket: Ticket, signed: SignedIn) -> Dict[str, bool]:
    allowed = tickets.allowed_targets(ticket.status)
    is_live = ticket.mode == live.LIVE and signed.account.role in LIVE_ROLES
    return {
        "claim": Status.CLAIMED in allowed,
        "forward": Status.FORWARDED in allowed and signed.account.role in FORWARD_ROLES,
        "close": Status.CLOSED in allowed,
        "chat": is_live and ticket.status == Status.IN_CONVERSATION.value,
        "takeover": is_live and ticket.status == Status.CLAIMED.value,
        "handback": is_live and ticket.status == Status.IN_CONVERSATION.value,
    }


def agent_label(signed: SignedIn) -> str:
    """How the citizen sees the agent in the chat."""
    return f"{live.AGENT_LABEL} ({signed.account.username})"


def _item(t: Ticket, now: dt.datetime) -> Dict[str, Any]:
    lines = ticket_lines(t)
    return {
        "id": t.id,
        "reference": t.id.split("-")[0].upper(),
        "mode": t.mode,
        "mode_label": MODE_LABELS.get(t.mode, t.mode),
        "status": t.status,
        "status_label": STATUS_LABELS.get(t.status, t.status),
        "department": t.department_slug,
        "assignee": t.assignee,
        "waiting": waiting_text(t.created_at, now),
        "waiting_seconds": max(0, int((now - t.created_at).total_seconds())),
        "title": lines[0],
        "lines": lines[1:],
    }


def _inbox_rows(session: Session, signed: SignedIn) -> List[Ticket]:
    # Live chats first (a citizen is waiting in the chat), then by waiting time.
    query = select(Ticket).where(Ticket.status.in_(OPEN)).order_by(Ticket.created_at, Ticket.id)
    if signed.account.role == "department":
        query = query.where(Ticket.department_slug == signed.account.department_slug)
    rows = list(session.execute(query).scalars())
    rows.sort(key=lambda t: (0 if t.mode == live.LIVE and t.status == Status.NEW.value else 1, t.created_at))
    return rows


def _detail(request: Request, session: Session, ticket: Ticket, signed: SignedIn, error: Optional[str] = None,
            status_code: int = 200) -> Response:
    actions = _actions(ticket, signed)
    return render(
        request,
        "console/ticket.html",
        {
            "ticket": ticket,
            "lines": ticket_lines(ticket),
            "waiting": waiting_text(ticket.created_at),
            "events": tickets.ticket_events(ticket.id, session=session),
            "status_labels": STATUS_LABELS,
            "resolution_labels": RESOLUTION_LABELS,
            "actions": actions,
            "departments": accounts.department_slugs(session=session),
            "error": error,
            "mode_labels": MODE_LABELS,
            "notifications": notifications.notifications_for(ticket.id, session=session),
            "notification_labels": notifications.STATUS_LABELS,
            "canned": town_config(request.app.state.settings.knowledge_dir).canned if actions["chat"] else [],
        },
        status_code=status_code,
        signed=signed,
    )


def _move(request: Request, session: Session, ticket: Ticket, signed: SignedIn, to_status: str,
          note: Optional[str] = None, resolution: Optional[str] = None) -> Optional[Response]:
    """Apply the transition; a German error page (the ticket's detail) when it is not possible."""
    try:
        tickets.transition(ticket.id, to_status, signed.account.actor, note=note, resolution=resolution,
                           session=session)
    except IllegalTransition as err:
        log.info("console: %s tried %s -> %s on ticket %s", signed.account.actor, err.from_status,
                 err.to_status, ticket.id)
        current = tickets.get_ticket(ticket.id, session=session)
        message = ILLEGAL_MESSAGE.format(status=STATUS_LABELS.get(current.status, current.status))
        return _detail(request, session, current, signed, error=message, status_code=409)
    except ConcurrentUpdate:
        current = tickets.get_ticket(ticket.id, session=session)
        return _detail(request, session, current, signed, error=CONCURRENT_MESSAGE, status_code=409)
    return None


def _rasa(session: Session, call: Callable[..., Awaitable[None]], *args: str) -> None:
    """Run one call to Rasa's API on the event loop and wait for it in this worker thread.

    What the request wrote so far is committed first: Rasa writes the conversation into the
    same database, and a step that already happened (e.g. a claim) stays when Rasa is down."""
    session.commit()
    anyio.from_thread.run(call, *args)


def _control(request: Request) -> live.RasaControl:
    return live.RasaControl(request.app.state.settings)


def _take_over(request: Request, session: Session, ticket: Ticket, signed: SignedIn) -> Response:
    try:
        _rasa(session, _control(request).take_over, ticket.conversation_id, agent_label(signed))
    except live.RasaUnavailable as err:
        log.warning("console: take-over of ticket %s failed: %s", ticket.id, err)
        return _detail(request, session, tickets.get_ticket(ticket.id, session=session), signed,
                       error=RASA_DOWN_MESSAGE, status_code=503)
    failed = _move(request, session, ticket, signed, Status.IN_CONVERSATION.value, note="Live-Chat übernommen")
    return failed or _back(ticket.id)


def _back(ticket_id: str) -> Response:
    return RedirectResponse(f"/console/tickets/{ticket_id}", status_code=303, headers={"Cache-Control": "no-store"})


def _note(form: Mapping[str, Any]) -> Optional[str]:
    note = str(form.get("note") or "").strip()
    return note[:MAX_NOTE_LENGTH] or None


async def request_body(request: Request) -> bytes:
    return await request.body()


# Plain functions below: FastAPI runs them in its thread pool, so their database work (and
# the inbox page's poll every few seconds) never blocks the event loop.
router = APIRouter(prefix="/console", dependencies=[Depends(inbox_user), Depends(csrf_protect)])


@router.get("/inbox", response_class=HTMLResponse, name="console_inbox")
def inbox(request: Request, signed: InboxUser, session: DbSession) -> Response:
    now = dt.datetime.now(dt.timezone.utc)
    items = [_item(t, now) for t in _inbox_rows(session, signed)]
    department = signed.account.department_slug if signed.account.role == "department" else None
    failed = notifications.failed_count(department, session=session)
    return render(
        request, "console/inbox.html",
        {"items": items, "status_labels": STATUS_LABELS, "failed_mails": failed}, signed=signed,
    )


@router.get("/api/inbox", name="console_inbox_api")
def inbox_api(signed: InboxUser, session: DbSession) -> Response:
    """The inbox as JSON for the page's live refresh (rendered with textContent)."""
    now = dt.datetime.now(dt.timezone.utc)
    items = [_item(t, now) for t in _inbox_rows(session, signed)]
    return JSONResponse({"items": items}, headers={"Cache-Control": "no-store"})


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse, name="console_ticket")
def ticket_detail(ticket_id: str, request: Request, signed: InboxUser, session: DbSession) -> Response:
    return _detail(request, session, _load(session, ticket_id, signed), signed)


@router.post("/tickets/{ticket_id}/claim", name="console_ticket_claim")
def claim(ticket_id: str, request: Request, signed: InboxUser, session: DbSession) -> Response:
    ticket = _load(session, ticket_id, signed)
    failed = _move(request, session, ticket, signed, Status.CLAIMED.value)
    if failed is not None:
        return failed
    session.execute(
        update(Ticket).where(Ticket.id == ticket_id).values(assignee=signed.account.actor)
        .execution_options(synchronize_session=False)
    )
    if ticket.mode == live.LIVE and signed.account.role in LIVE_ROLES:
        # A live chat: the citizen is waiting in the widget, so the agent joins at once.
        return _take_over(request, session, tickets.get_ticket(ticket_id, session=session), signed)
    return _back(ticket_id)


@router.post("/tickets/{ticket_id}/takeover", name="console_ticket_takeover")
def takeover(ticket_id: str, request: Request, signed: InboxUser, session: DbSession) -> Response:
    """Join the chat of a claimed live ticket (again, e.g. after Rasa was unreachable)."""
    ticket = _load(session, ticket_id, signed)
    if not _actions(ticket, signed)["takeover"]:
        return _detail(request, session, ticket, signed, error="Dieses Gespräch können Sie nicht übernehmen.",
                       status_code=409)
    return _take_over(request, session, ticket, signed)


@router.get("/api/tickets/{ticket_id}/messages", name="console_ticket_messages")
def messages(ticket_id: str, request: Request, signed: InboxUser, session: DbSession) -> Response:
    """The conversation after event ``after`` (the page polls this while chatting)."""
    ticket = _load(session, ticket_id, signed)
    try:
        after = max(0, int(request.query_params.get("after", "0")))
    except ValueError:
        return JSONResponse({"detail": "Parameter „after“ muss eine Zahl sein."}, status_code=400)
    # Rasa's own events table, read outside this request's transaction.
    lines = live.transcript(ticket.conversation_id, after=after, url=request.app.state.settings.db_url)
    current = tickets.get_ticket(ticket_id, session=session)
    return JSONResponse({
        "status": current.status,
        "status_label": STATUS_LABELS.get(current.status, current.status),
        "messages": [
            {"id": m.id, "role": m.role, "text": m.text, "agent": m.agent,
             "at": m.at.astimezone(dt.timezone.utc).strftime("%H:%M")}
            for m in lines
        ],
    }, headers={"Cache-Control": "no-store"})


@router.post("/api/tickets/{ticket_id}/messages", name="console_ticket_say")
def say(ticket_id: str, request: Request, signed: InboxUser, session: DbSession,
        raw: Annotated[bytes, Depends(request_body)]) -> Response:
    ticket = _load(session, ticket_id, signed)
    if not _actions(ticket, signed)["chat"]:
        return JSONResponse(
            {"detail": "Schreiben ist nur möglich, solange Sie das Gespräch führen."}, status_code=409)
    try:
        body = json.loads(raw)
    except ValueError:
        return JSONResponse({"detail": "Die Anfrage ist kein gültiges JSON."}, status_code=400)
    text = str(body.get("text") or "").strip() if isinstance(body, dict) else ""
    if not text:
        return JSONResponse({"detail": "Bitte schreiben Sie eine Nachricht."}, status_code=400)
    if len(text) > live.MAX_AGENT_MESSAGE:
        return JSONResponse(
            {"detail": f"Die Nachricht ist zu lang (höchstens {live.MAX_AGENT_MESSAGE} Zeichen)."},
            status_code=400)
    try:
        _rasa(session, _control(request).say, ticket.conversation_id, agent_label(signed), text)
    except live.RasaUnavailable as err:
        log.warning("console: message for ticket %s not delivered: %s", ticket_id, err)
        return JSONResponse({"detail": RASA_DOWN_MESSAGE}, status_code=503)
    return JSONResponse({"ok": True}, status_code=201)


@router.post("/tickets/{ticket_id}/handback", name="console_ticket_handback")
def handback(ticket_id: str, request: Request, signed: InboxUser, session: DbSession) -> Response:
    """The agent is done; the assistant answers again (the ticket is then answered)."""
    ticket = _load(session, ticket_id, signed)
    if not _actions(ticket, signed)["handback"]:
        return _detail(request, session, ticket, signed, error="Das Gespräch führen Sie gerade nicht.",
                       status_code=409)
    try:
        _rasa(session, _control(request).hand_back, ticket.conversation_id, agent_label(signed))
    except live.RasaUnavailable as err:
        log.warning("console: hand-back of ticket %s failed: %s", ticket_id, err)
        return _detail(request, session, ticket, signed, error=RASA_DOWN_MESSAGE, status_code=503)
    return _move(request, session, ticket, signed, Status.ANSWERED.value,
                 note="an den Assistenten zurückgegeben") or _back(ticket_id)


@router.post("/notifications/{notification_id}/retry", name="console_notification_retry")
def retry_notification(notification_id: str, signed: InboxUser, session: DbSession, form: FormDep) -> Response:
    ticket = _load(session, str(form.get("ticket_id") or ""), signed)
    if not any(n.id == notification_id for n in notifications.notifications_for(ticket.id, session=session)):
        raise StarletteHTTPException(status_code=404)
    notifications.retry(notification_id, session=session)
    return _back(ticket.id)


@router.post("/tickets/{ticket_id}/forward", name="console_ticket_forward")
def forward(ticket_id: str, request: Request, signed: InboxUser, session: DbSession, form: FormDep) -> Response:
    ticket = _load(session, ticket_id, signed)
    if signed.account.role not in FORWARD_ROLES:
        raise ConsoleError(403, "Weiterleiten dürfen nur Mitarbeitende des Servicecenters.", "Kein Zugriff")
    target = str(form.get("department") or "").strip()
    note = _note(form)
    if target not in accounts.department_slugs(session=session):
        return _detail(request, session, ticket, signed, error="Bitte wählen Sie eine Abteilung aus der Liste.",
                       status_code=400)
    if not note:
        return _detail(request, session, ticket, signed,
                       error="Bitte schreiben Sie eine kurze Notiz für die Abteilung.", status_code=400)
    failed = _move(request, session, ticket, signed, Status.FORWARDED.value, note=f"an {target}: {note}")
    if failed is not None:
        return failed
    # tickets.transition does not change the department, so the new owner is set right after,
    # only while the ticket is still the forwarded one we just wrote.
    kb = current_knowledge(request)
    recipient = town_config(request.app.state.settings.knowledge_dir).routing.target_email(target, kb)
    moved = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.status == Status.FORWARDED.value)
        .values(department_slug=target)
        .execution_options(synchronize_session=False)
    ).rowcount
    current = session.get(Ticket, ticket_id, populate_existing=True)
    if moved == 1 and recipient and current is not None:
        # The event count keys the mail, so a second forward gets its own and a retry none.
        count = session.execute(
            select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
        ).scalar_one()
        notifications.enqueue_department_mail(session, current, target, recipient, f"forwarded:{count}")
    return _back(ticket_id)


@router.post("/tickets/{ticket_id}/close", name="console_ticket_close")
def close(ticket_id: str, request: Request, signed: InboxUser, session: DbSession, form: FormDep) -> Response:
    ticket = _load(session, ticket_id, signed)
    resolution = str(form.get("resolution") or "")
    if resolution not in tickets.RESOLUTIONS:
        return _detail(request, session, ticket, signed,
                       error="Bitte wählen Sie aus, wie das Anliegen erledigt wurde.", status_code=400)
    if ticket.mode == live.LIVE and ticket.status == Status.IN_CONVERSATION.value:
        try:
            _rasa(session, _control(request).hand_back, ticket.conversation_id, agent_label(signed))
        except live.RasaUnavailable as err:
            log.warning("console: hand-back on closing ticket %s failed: %s", ticket_id, err)
            return _detail(request, session, ticket, signed, error=RASA_DOWN_MESSAGE, status_code=503)
    return _move(request, session, ticket, signed, Status.CLOSED.value, note=_note(form),
                 resolution=resolution) or _back(ticket_id)
