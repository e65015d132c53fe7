"""The citizens' callback form under /rueckruf/{token}: no login, the signed link is the authorisation.

CSRF follows the anonymous pattern of the login form: a short-lived cookie whose value must
come back in the form.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any, Dict, Mapping, Optional

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from servicecenter.console.auth import CSRF_FAILED, ConsoleError, FormDep, _is_https, _same, render
from servicecenter.console.deps import DbSession, current_knowledge
from servicecenter.handoff import tickets
from servicecenter.handoff.callback import (
    MAX_CONCERN,
    MAX_NAME,
    PREFERRED_TIMES,
    InvalidCallbackToken,
    consent_given,
    german_due,
    validate_callback,
    verify_callback_token,
)
from servicecenter.models import Ticket
from servicecenter.town import town_config

log = logging.getLogger(__name__)

CALLBACK_PATH = "/rueckruf"
CALLBACK_CSRF_COOKIE = "callback_csrf"
CSRF_COOKIE_SECONDS = 2 * 60 * 60
CALLBACK_NOTE = "callback requested"
FIELDS = ("name", "phone", "email", "preferred_time", "concern")


def _open_ticket(request: Request, session: Session, token: str) -> Optional[Ticket]:
    """The ticket of a valid token, or None (bad, expired or unknown)."""
    try:
        ticket_id = verify_callback_token(token, settings=request.app.state.settings)
        return tickets.get_ticket(ticket_id, session=session)
    except (InvalidCallbackToken, tickets.TicketNotFound) as err:
        log.info("callback: rejected link (%s)", type(err).__name__)
        return None


def _invalid_link(request: Request) -> Response:
    return render(request, "callback_invalid.html", {}, status_code=404)


def _closed(ticket: Ticket) -> bool:
    return ticket.status == tickets.Status.CLOSED.value


def _form_page(
    request: Request, token: str, values: Mapping[str, Any], errors: Mapping[str, str], status_code: int = 200,
) -> Response:
    csrf = secrets.token_urlsafe(32)
    response = render(
        request,
        "callback_form.html",
        {
            "token": token,
            "csrf_token": csrf,
            "values": values,
            "errors": errors,
            "times": PREFERRED_TIMES,
            "max_name": MAX_NAME,
            "max_concern": MAX_CONCERN,
        },
        status_code=status_code,
    )
    response.set_cookie(
        CALLBACK_CSRF_COOKIE, csrf, max_age=CSRF_COOKIE_SECONDS, path=CALLBACK_PATH,
        httponly=True, samesite="strict", secure=_is_https(request),
    )
    return response


router = APIRouter(prefix=CALLBACK_PATH)


@router.get("/{token}", response_class=HTMLResponse, name="callback_form")
def callback_form(request: Request, token: str, session: DbSession) -> Response:
    ticket = _open_ticket(request, session, token)
    if ticket is None:
        return _invalid_link(request)
    if _closed(ticket):
        return render(request, "callback_closed.html", {}, status_code=410)
    values: Dict[str, Any] = {"preferred_time": "egal"}
    return _form_page(request, token, values, {})


@router.post("/{token}", name="callback_submit")
def callback_submit(request: Request, token: str, session: DbSession, form: FormDep) -> Response:
    ticket = _open_ticket(request, session, token)
    if ticket is None:
        return _invalid_link(request)
    # The link decides first (an unknown link is a 404 page), then the form's CSRF token.
    if not _same(form.get("csrf_token"), request.cookies.get(CALLBACK_CSRF_COOKIE)):  # type: ignore[arg-type]
        log.warning("callback: form without a valid CSRF token")
        raise ConsoleError(403, CSRF_FAILED, "Anfrage abgelehnt")
    if _closed(ticket):
        return render(request, "callback_closed.html", {}, status_code=410)
    if not consent_given(form):
        # Nothing personal is stored, not even in the logs.
        log.info("callback: ticket %s, request without consent, nothing stored", ticket.id)
        response = render(request, "callback_no_consent.html", {"token": token})
        response.delete_cookie(CALLBACK_CSRF_COOKIE, path=CALLBACK_PATH)
        return response
    callback, errors = validate_callback(form)
    if callback is None:
        values = {field: str(form.get(field) or "") for field in FIELDS}
        values["consent"] = True
        return _form_page(request, token, values, errors, status_code=422)
    now = dt.datetime.now(dt.timezone.utc)
    updated = tickets.set_contact(
        ticket.id, callback.contact(now), consent=True, note=CALLBACK_NOTE, session=session,
        notify=_department_mail(request, ticket),
    )
    log.info("callback: ticket %s, contact stored", ticket.id)
    response = render(
        request,
        "callback_done.html",
        {
            "due": german_due(updated.due_at) if updated.due_at else None,
            "by_phone": bool(callback.phone),
            "preferred_time": callback.preferred_time,
        },
    )
    response.delete_cookie(CALLBACK_CSRF_COOKIE, path=CALLBACK_PATH)
    return response


def _department_mail(request: Request, ticket: Any) -> Optional[str]:
    """The department's address for the callback notice (none for the ServiceCenter's queue)."""
    kb = current_knowledge(request)
    return town_config(request.app.state.settings.knowledge_dir).routing.callback_email(ticket.department_slug, kb)
